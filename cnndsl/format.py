"""How numbers and shapes read, everywhere cnndsl shows them (tables, diagrams, messages, timings)."""

from __future__ import annotations


def human(n: float, unit: str = "") -> str:
    """1234567 → '1.23 M'."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.2f} {prefix}{unit}"
    return f"{n:g} {unit}".rstrip()


def fmt_shape(shape) -> str:
    """(64, 56, 56) → '64×56×56'."""
    return "×".join(str(d) for d in shape)


def fmt_size(size: tuple[int, int]) -> str:
    return f"{size[0]}×{size[1]}"


def fmt_rf(rf: tuple[int, int]) -> str:
    """A receptive field: '7', or '7×5' when it is not square."""
    return str(rf[0]) if rf[0] == rf[1] else f"{rf[0]}×{rf[1]}"


def block_call(info: dict) -> str:
    """A block instance as it was called, with every argument resolved: 'inception(64, 96, 128, 16, 32, 32)'."""
    return f"{info['block']}({', '.join(str(v) for v in info['args'].values())})"
