"""Figures of the teaching tools: matplotlib (Agg), one style, written atomically in the format the
file's extension names."""

from __future__ import annotations

from pathlib import Path

from .files import write_with

STYLE = {"axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
         "font.size": 10, "axes.titlesize": 11, "legend.fontsize": 9, "figure.dpi": 110}


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update(STYLE)
    return plt


def save(fig, path: str | Path, what: str = "plot", tight: bool = True) -> None:
    import matplotlib.pyplot as plt
    fmt = Path(path).suffix.lstrip(".").lower()
    try:
        if tight:
            fig.tight_layout()
        write_with(path, lambda f: fig.savefig(f, format=fmt, dpi=110, metadata=_metadata(fmt)), what)
    finally:
        plt.close(fig)


def _metadata(fmt: str) -> dict | None:
    """No creation date or version in the file, so that a figure rebuilt from the same numbers is the same file."""
    if fmt == "png":
        return {"Software": None}
    if fmt == "svg":
        return {"Date": None, "Creator": None}
    if fmt == "pdf":
        return {"CreationDate": None, "Producer": None, "Creator": None}
    return None


def formats() -> tuple[str, ...]:
    """The extensions a plot may be written as: matplotlib's file formats."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    return tuple(sorted(f".{ext}" for ext in FigureCanvasAgg.get_supported_filetypes()))


def short(v: float) -> str:
    """175000000 → '175M', 1500 → '1.5k': three significant digits at most."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= factor:
            return f"{v / factor:.3g}{prefix}"
    return f"{v:.3g}"


def human_axis(ax, axis: str = "y") -> None:
    """Tick labels as 1k, 10M, 1G."""
    from matplotlib.ticker import FuncFormatter
    formatter = FuncFormatter(lambda v, _: short(v) if v else "0")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)
