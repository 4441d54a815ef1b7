"""engine/ahead.py: a first run's kernels compiled from the other end by a helper process. The stand-in
caches the helper back-propagates from must be what forward keeps (or the helper's work is wasted, silently);
the helper must leave the cache holding the network's kernels; the run must stop it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnndsl
from cnndsl.ops import OPS
from cnndsl.ops.base import RunContext

from ..kernels.test_kernels import CASES, one_layer


def _structure(value):
    """The types and shapes of a cache, not its values: what numba compiles a kernel for."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.ndim, value.flags.c_contiguous)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_structure(v) for v in value))
    return (type(value).__name__, value if isinstance(value, (int, tuple)) else None)


@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("stmt, shape", CASES)
def test_a_stand_in_cache_has_the_structure_of_what_forward_keeps(stmt, shape, mode):
    net = one_layer(stmt, shape).init(seed=1)
    eng, rng = net.engine, np.random.default_rng(0)
    for node in eng.run_nodes(mode == "train"):
        data = net.graph.nodes[node]["node"]
        op = OPS[data.op]
        shape_of = lambda i: (3,) + tuple(net.input_shape if i == "input" else net.graph.nodes[i]["node"].shape)
        xs = [rng.standard_normal(shape_of(i)).astype(np.float32) for i in data.inputs]
        ctx = RunContext(training=mode == "train", keep=True, rng=np.random.default_rng(0),
                         state={k: v.copy() for k, v in eng.state.get(node, {}).items()})
        y, cache = op.forward(data.attrs, xs, eng.params.get(node, {}), ctx)
        stand_in = op.stand_in_cache(data.attrs, xs, np.empty_like(y))
        if stand_in is not None:
            assert _structure(stand_in) == _structure(cache), (node, data.op)
            dxs, _ = op.backward(data.attrs, np.ones_like(y), stand_in, eng.params.get(node, {}), ctx)
            assert [None if d is None else d.shape for d in dxs] == [x.shape for x in xs]


def test_the_layers_with_heavy_backward_kernels_offer_a_stand_in():
    x = np.zeros((2, 4, 8, 8), np.float32)
    net = one_layer("conv 4 3x3 pad=1; bn; relu\nmaxpool 2\navgpool 2\ntanh", "4x8x8")
    for layer in net.layers[:-1]:
        data = net.graph.nodes[layer]["node"]
        assert OPS[data.op].stand_in_cache(data.attrs, [x], x) is not None, data.op


def test_the_job_describes_every_layer_of_the_pass_without_weights():
    from cnndsl.engine.ahead import job
    net = cnndsl.load("googlenet")
    spec = job(net.engine, "train", 2, False, True)
    assert len(spec["steps"]) == len(net.engine.run_nodes(True))  # the aux heads too, in training
    conv1 = spec["steps"][0]
    assert conv1["op"] == "conv" and conv1["inputs"] == [(2, 3, 224, 224)] and conv1["output"] == (2, 64, 112, 112)
    assert conv1["params"]["weight"] == (64, 3, 7, 7) and not conv1["need_dx"]
    assert spec["logits"] == [(2, 1000)] * 3  # the main output and the two aux heads
    assert len(job(net.engine, "eval", 2, False, True)["logits"]) == 1


def _kernels_compiled(stderr: str) -> int:
    found = re.search(r"compiled (\d+) kernels?", stderr)
    return int(found.group(1)) if found else 0


NET = "network A\ninput 3x12x12\nconv 8 3x3 pad=1; bn; relu\nmaxpool 2\nconv 4 3x3; tanh\nflatten\ndense 5\nsoftmax\n"


@pytest.mark.slow  # compiles a small network's kernels from an empty cache, three times
def test_after_the_helper_a_run_compiles_next_to_nothing_and_no_helper_outlives_a_run(tmp_path):
    path = tmp_path / "a.cnn"
    path.write_text(NET)
    run = [sys.executable, "-m", "cnndsl", "run", str(path), "--backward", "--mode", "train", "--batch", "3"]
    alone = subprocess.run(run, capture_output=True, text=True,
                           env=dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "c1"), CNNDSL_THREADS="1"))
    assert alone.returncode == 0, alone.stderr
    everything = _kernels_compiled(alone.stderr)  # one core: no helper, the run compiles everything
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "c2"))
    helper = subprocess.run([sys.executable, "-m", "cnndsl.engine.ahead", str(path), "--batch", "3", "--mode", "train",
                             "--loss"], capture_output=True, text=True, env=env)
    assert helper.returncode == 0 and helper.stdout == helper.stderr == ""
    after = subprocess.run(run, capture_output=True, text=True, env=env)
    assert after.returncode == 0, after.stderr
    assert everything >= 8 and _kernels_compiled(after.stderr) <= 2, (everything, after.stderr)
    # with a helper (two cores, an empty cache): the same output, and no helper left running
    env3 = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "c3"), CNNDSL_THREADS="2")
    both = subprocess.run(run + ["--json"], capture_output=True, text=True, env=env3)
    assert both.returncode == 0, both.stderr
    assert '"loss"' in both.stdout
    assert not _helpers_using(tmp_path / "c3")


def _helpers_using(cache: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes()
            env = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"cnndsl.engine.ahead" in cmd and str(cache).encode() in env:
            found.append(proc.name)
    return found


@pytest.mark.slow  # trains LeNet-5 for an epoch from an empty cache
def test_training_from_an_empty_cache_leaves_no_helper_behind(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), CNNDSL_THREADS="2")
    done = subprocess.run([sys.executable, "-m", "cnndsl", "train", "lenet5", "--epochs", "1"], capture_output=True,
                          text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "compiling kernels for the first run" in done.stderr and "test accuracy" in done.stdout
    assert not _helpers_using(tmp_path / "cache")
