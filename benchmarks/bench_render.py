"""Diagram speed, `dot` included. Target (issue 3): GoogLeNet to SVG in under 3 s.

    python benchmarks/bench_render.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import cnndsl


def main() -> None:
    print(f"{'render to SVG (dot included)':<34} median s")
    with tempfile.TemporaryDirectory() as tmp:
        for name, depth in (("lenet5", None), ("resnet50", None), ("resnet50", 1), ("googlenet", None),
                            ("googlenet", 0)):
            net = cnndsl.load(name)
            times = []
            for _ in range(3):
                t = time.perf_counter()
                net.render(Path(tmp) / "x.svg", depth=depth)
                times.append(time.perf_counter() - t)
            label = f"{name}" + (f" --depth {depth}" if depth is not None else " (every layer)")
            print(f"{label:<34} {statistics.median(times):8.2f}")


if __name__ == "__main__":
    main()
