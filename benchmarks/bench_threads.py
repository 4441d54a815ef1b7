"""What sharing a kernel's work between the cores costs on this machine, for kernels/schedule.py's
thresholds: the round trip of one call through `run_batched` with nothing to do (the wake-up of a worker
thread), and batch norm's two forward kernels (element-wise and per channel, memory-bound) on one thread
and shared, from 50 thousand to 6 million elements. Below MIN_ELEMENTS they run on one thread.

    python benchmarks/bench_threads.py
"""

from __future__ import annotations

import sys

import machine  # noqa: E402 — benchmarks/machine.py

import cnndsl

cnndsl.tune_process()

import numpy as np  # noqa: E402

from bench_engine import median_time  # noqa: E402
from cnndsl.kernels import normalization, schedule  # noqa: E402

SHAPES = [(1, 64, 28, 28), (1, 64, 56, 56), (1, 64, 112, 112), (8, 64, 56, 56), (32, 64, 56, 56)]


def median_us(fn, repeat: int = 200) -> float:
    return 1e6 * median_time(fn, repeat, warm_up_s=0.05)


def main() -> None:
    print(machine.banner())
    if schedule.workers() < 2:
        sys.exit("one thread (CNNDSL_THREADS=1 or one core): nothing is shared")
    noop = median_us(lambda: schedule.run_batched(lambda lo, hi: None, 2))
    print(f"run_batched round trip, nothing to do: {noop:.0f} µs (median of 200)")
    print(f"MIN_ELEMENTS = {schedule.MIN_ELEMENTS:,}")
    print(f"{'shape':>16} {'elements':>10} | {'stats, 1 thread':>15} {'shared':>8} | {'normalize, 1 thread':>19} {'shared':>8}")
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        x = rng.standard_normal(shape, dtype=np.float32).reshape(shape[0], shape[1], -1)
        c = shape[1]
        mean, var = np.empty(c, np.float32), np.empty(c, np.float32)
        gamma, beta, y = np.ones(c, np.float32), np.zeros(c, np.float32), np.empty_like(x)

        def stats(c0, c1):
            normalization.batch_stats(x, mean, var, c0, c1)

        def norm(c0, c1):
            normalization.bn_forward(x, mean, var, gamma, beta, 1e-5, y, c0, c1)
        row = [median_us(lambda: stats(0, c)), median_us(lambda: schedule.run_batched(stats, c)),
               median_us(lambda: norm(0, c)), median_us(lambda: schedule.run_batched(norm, c))]
        print(f"{'×'.join(map(str, shape)):>16} {x.size:>10,} | {row[0]:>12.0f} µs {row[1]:>5.0f} µs | "
              f"{row[2]:>16.0f} µs {row[3]:>5.0f} µs")


if __name__ == "__main__":
    main()
