"""Compile and start-up times: `cnndsl warm` (every kernel, over the cores) and a first `cnndsl run
lenet5 --backward` with an empty numba cache, the same serially through benchmarks/all_ops.cnn,
`cnndsl run lenet5` from process start with a warm cache, `import cnndsl`, and `cnndsl check resnet50`
(which loads neither numba nor the kernels).

    python benchmarks/bench_startup.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ALL_OPS = Path(__file__).parent / "all_ops.cnn"


def timed(args: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cnndsl", *args], check=True, capture_output=True, env=env)
    return time.perf_counter() - t


def _python(code: str, env: dict) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)
    return time.perf_counter() - t


def main() -> None:
    import machine
    print(machine.banner())
    with tempfile.TemporaryDirectory() as cache:
        warmed = timed(["warm"], dict(os.environ, NUMBA_CACHE_DIR=cache))
    with tempfile.TemporaryDirectory() as cache:
        first = timed(["run", "lenet5", "--backward"], dict(os.environ, NUMBA_CACHE_DIR=cache))
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = timed(["run", str(ALL_OPS), "--mode", "train", "--backward", "--batch", "2"], env)
        cold += timed(["run", str(ALL_OPS), "--mode", "eval", "--backward", "--batch", "2"], env)
        warm_all = timed(["run", str(ALL_OPS), "--mode", "train", "--backward", "--batch", "2"], env)
        timed(["run", "lenet5"], env)
        warm = min(timed(["run", "lenet5"], env) for _ in range(3))
        check = min(timed(["check", "resnet50"], env) for _ in range(3))
        bare = min(_python("pass", env) for _ in range(3))
        imported = max(0.0, min(_python("import cnndsl", env) for _ in range(3)) - bare)  # within the noise: 0
    print(f"`cnndsl warm`, empty cache (every kernel, one process per core):    {warmed:6.1f} s   (target < 15 s)")
    print(f"first `cnndsl run lenet5 --backward`, empty cache:                  {first:6.1f} s   (target < 4 s)")
    print(f"all_ops.cnn run serially, empty cache (train + eval, fwd + bwd):    {cold:6.1f} s")
    print(f"the same with a warm cache:                                          {warm_all:6.1f} s")
    print(f"`cnndsl run lenet5`, warm cache, from process start:                 {warm:6.2f} s   (target < 3 s)")
    print(f"`import cnndsl` (beyond the interpreter's own start):                {imported:6.3f} s")
    print(f"`cnndsl check resnet50`, from process start:                         {check:6.2f} s")


if __name__ == "__main__":
    main()
