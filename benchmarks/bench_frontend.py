"""Front-end speed: parse + expand + infer. Targets (issue 2): ResNet-50 < 100 ms, 1,000 layers < 1 s.

    python benchmarks/bench_frontend.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import cnndsl
from cnndsl.resources import shipped_architectures


def median_ms(fn, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def generated(n_layers: int) -> str:
    body = "\n".join("conv 16 3x3 pad=1" if i % 2 == 0 else "relu" for i in range(n_layers))
    return f"network Generated\ninput 16x32x32\n{body}\n"


def main() -> None:
    rows = []
    for name in ("lenet5", "resnet18", "resnet50", "googlenet"):
        text = shipped_architectures()[name].read_text()
        cnndsl.parse(text)  # warm: lark's parser tables are built once per process
        rows.append((f"{name} ({len(cnndsl.parse(text).layers)} layers)", median_ms(lambda: cnndsl.parse(text))))
    for n in (1_000, 10_000):
        text = generated(n)
        rows.append((f"generated, {n:,} layers", median_ms(lambda: cnndsl.parse(text), repeat=3)))
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cnndsl", "check", "resnet50"], check=True, capture_output=True)
    rows.append(("`cnndsl check resnet50`, whole process", 1e3 * (time.perf_counter() - t)))
    width = max(len(r[0]) for r in rows)
    print(f"{'parse + expand + infer':<{width}}  median ms")
    for label, ms in rows:
        print(f"{label:<{width}}  {ms:9.1f}")


if __name__ == "__main__":
    main()
