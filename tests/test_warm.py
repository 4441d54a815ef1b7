"""`cnndsl warm`: every kernel compiled ahead, over the cores, so that no later run compiles."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import cnndsl
from cnndsl.warm import unit_texts
from cnndsl.kernels import schedule
from cnndsl.kernels.conv import ALGORITHMS

ROOT = Path(__file__).resolve().parents[1]


def test_the_units_reach_every_convolution_path_and_every_op():
    """By construction, before anything compiles: at the batch warm runs (2), the units' convolutions take
    every algorithm the scheduler has, and every op of the language appears."""
    paths, ops = set(), set()
    for name, text in unit_texts():
        net = cnndsl.parse(text, name)
        for layer in net.layers:
            node = net.node(layer)
            ops.add(node.op)
            if node.op == "conv":
                a = node.attrs
                paths.add(schedule.conv_algorithm(node.params["weight"], a["stride"], a["pad"], a["dilation"],
                                                  a["groups"], 2, node.shape[1:]))
    assert paths == set(ALGORITHMS)
    assert ops == set(cnndsl.ops.OPS) - {"input"}


def test_jobs_must_be_a_whole_number():
    result = subprocess.run([sys.executable, "-m", "cnndsl", "warm", "--jobs", "0"], capture_output=True, text=True)
    assert result.returncode != 0 and "--jobs: expected a whole number ≥ 1, got '0'" in result.stderr


def kernel_functions() -> list[tuple[str, str]]:
    """(file stem, qualified name) of every numba kernel compiled on its own (inlined helpers are not)."""
    from numba.core.registry import CPUDispatcher

    import cnndsl.kernels as package
    found = []
    for info in pkgutil.walk_packages(package.__path__, "cnndsl.kernels."):
        if ".reference" in info.name:
            continue
        module = importlib.import_module(info.name)
        stem = Path(module.__file__).stem
        for obj in vars(module).values():
            if (isinstance(obj, CPUDispatcher) and obj.__module__ == module.__name__
                    and obj.targetoptions.get("inline", "never") != "always"):
                found.append((stem, obj.py_func.__qualname__))
    return found


@pytest.mark.slow
def test_warm_compiles_every_kernel_and_later_runs_compile_nothing(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "cnndsl", "warm", "--jobs", "2"], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "later runs load them from the cache" in result.stdout
    compiled = int(result.stdout.split("compiled ")[1].split()[0])
    indexes = {p.name for p in tmp_path.rglob("*.nbi")}
    kernels = kernel_functions()
    assert len(kernels) > 50 and compiled >= len(kernels) // 2
    missing = [f"{stem}.{name}" for stem, name in kernels if not any(i.startswith(f"{stem}.{name}-") for i in indexes)]
    assert missing == []
    again = subprocess.run([sys.executable, "-m", "cnndsl", "warm"], capture_output=True, text=True, env=env)
    assert again.returncode == 0 and again.stdout.startswith("compiled 0 kernels")
    for args in (["resnet18", "--backward", "--mode", "train", "--batch", "2"], ["googlenet", "--backward"],
                 [str(ROOT / "docs/lessons/nets/mobilenetv2.cnn")], ["lenet5", "--backward", "--batch", "3"]):
        run = subprocess.run([sys.executable, "-m", "cnndsl", "run", *args], capture_output=True, text=True, env=env)
        assert run.returncode == 0, run.stderr
        assert "compil" not in run.stderr, (args, run.stderr)
