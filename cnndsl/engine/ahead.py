"""A first run's kernels compiled from both ends at once: a second process for the second core.

numba compiles a kernel in the process that first calls it, one at a time, and a first run meets its kernels
in order: the forward pass's, then the backward pass's, each waiting for the last. When the `cnndsl` command
has to compile (the first compile of the run begins), it starts a helper process with a description of every
layer of the pass — its op, arguments and shapes, no weights — and the helper compiles the same kernels from
the other end, into the same numba cache (kernels/cache.py makes that safe):

1. the loss, which the run reaches at the end of its forward pass;
2. the backward kernels of the layers whose backward needs only arrays it can make up (`Op.stand_in_cache`:
   a convolution's or a dense layer's input, an activation's output), in the reverse of the order the run
   first needs them: it goes back from the last layer, and meets a kind of layer's kernels at that kind's
   last layer, so the kinds whose last layer comes first go first (first layer first within a kind);
3. then every other layer from the last one back, forward and backward on random data of its shapes.

When the run reaches a kernel the helper has saved, numba loads it instead of compiling; one the helper is
compiling, it waits for (kernels/cache.py's claims), and the helper skips a layer whose kernel the run is
compiling, rather than compile it a second time. The run stops the
helper once its first pass is over: everything that pass needed is compiled or loaded by then. The helper
prints nothing and its failures change nothing — the run compiles whatever the helper did not.

    python -m cnndsl.engine.ahead architectures/lenet5.cnn --loss   # what `cnndsl run lenet5 --backward` starts
"""

from __future__ import annotations

import os
import subprocess
import sys

ENABLED = False  # the `cnndsl` command sets it; a library caller's process starts no helper


def job(engine, mode: str, batch: int, input_grad: bool, loss: bool) -> dict:
    """What the helper needs, as plain Python values: per layer of the pass (forward and backward), in order,
    its op, arguments, the shapes of its inputs, output, weights and buffers (the graph's: no weights needed)."""
    training = mode == "train"
    g = engine.g
    steps = []
    for node in engine.run_nodes(training):
        data = g.nodes[node]["node"]
        shape_of = lambda i: (batch,) + tuple(g.graph["input_shape"] if i == "input" else g.nodes[i]["node"].shape)
        steps.append({"op": data.op, "attrs": dict(data.attrs), "inputs": [shape_of(i) for i in data.inputs],
                      "output": (batch,) + tuple(data.shape), "params": dict(data.params), "state": dict(data.state),
                      "need_dx": input_grad or "input" not in data.inputs})
    ends = [g.graph["output"]] + ([h["node"] for h in g.graph["aux_heads"]] if training else [])
    loss = loss and len(g.nodes[g.graph["output"]]["node"].shape) == 1  # a feature map gets a made-up gradient
    logits = [(batch,) + tuple(g.nodes[engine._logits(e)]["node"].shape) for e in ends] if loss else []
    return {"training": training, "steps": steps, "logits": logits, "dtype": engine.dtype.str}


class Helper:
    """The helper process of one run: started early (the numba cache is empty) or at the run's first
    compile, stopped once the run's first pass is over."""

    def __init__(self, argv: list[str]):
        self.argv, self.proc = argv, None

    def start(self) -> None:
        if self.proc is not None:
            return
        env = dict(os.environ, CNNDSL_THREADS="1", OPENBLAS_NUM_THREADS="1")
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "cnndsl.engine.ahead", *self.argv],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, env=env)
        except OSError:  # no process to be had: the run compiles everything itself
            pass

    def stop(self) -> None:
        from ..kernels import lazy
        lazy.when_compiling(None)
        if self.proc is not None:
            self.proc.kill()  # numba replaces each cache file whole: a kill leaves no half-written one
            self.proc.wait()


def for_run(network: str, batch: int, mode: str, backward: bool, input_grad: bool, loss: bool,
            kernels: str = "fast") -> Helper | None:
    """A helper for `cnndsl run` of the .cnn file `network` with backward, on more than one core,
    under the `cnndsl` command; None otherwise. It starts now if numba's cache is empty, else at the
    run's first compile, if there is one."""
    from ..kernels import lazy, schedule
    if not ENABLED or not backward or kernels != "fast" or schedule.workers() < 2:
        return None
    helper = Helper([str(network), "--batch", str(batch), "--mode", mode]
                    + ["--input-grad"] * input_grad + ["--loss"] * loss)
    if _cache_is_empty():
        helper.start()
    else:
        lazy.when_compiling(helper.start)
    return helper


def _cache_is_empty() -> bool:
    """No cached kernel for the finite check every run makes first: no index file of numba's for it where
    numba would put one (kernels/elementwise.py's max_exponent). Looked up without importing numba, which
    takes 0.2–0.3 s that the helper would wait for (entry 71); numba's own locators, in its order: the
    directory NUMBA_CACHE_DIR names, the source's __pycache__, the user-wide cache."""
    import glob
    import hashlib
    source_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kernels")
    pattern = f"elementwise.max_exponent-*.py{sys.version_info[0]}{sys.version_info[1]}*.nbi"
    subpath = f"{os.path.basename(source_dir)}_{hashlib.sha1(source_dir.encode()).hexdigest()}"
    if os.environ.get("NUMBA_CACHE_DIR"):
        places = [os.path.join(os.environ["NUMBA_CACHE_DIR"], subpath)]
    else:
        user = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        places = [os.path.join(source_dir, "__pycache__"), os.path.join(user, "numba", subpath)]
    return not any(glob.glob(os.path.join(glob.escape(place), pattern)) for place in places)


def compile_from(spec: dict) -> None:
    """The helper's work (see the module's docstring); each layer on its own, its failures ignored."""
    import numpy as np

    from ..ops import OPS
    from ..ops.base import RunContext

    dtype = np.dtype(spec["dtype"])
    rng = np.random.default_rng(0)
    steps, training = spec["steps"], spec["training"]

    def arrays(shapes):
        return [rng.standard_normal(s, dtype=dtype) for s in shapes]

    def context(step) -> RunContext:
        state = {k: (np.ones(s, dtype) if k.endswith("var") else np.zeros(s, dtype)) for k, s in step["state"].items()}
        ctx = RunContext(training=training, keep=True, rng=np.random.default_rng(0), state=state)
        ctx.need_dx = step["need_dx"]
        return ctx

    def params(step) -> dict:  # zeros: a kernel compiles for the types, and untouched pages cost nothing
        return {k: np.zeros(s, dtype) for k, s in step["params"].items()}

    done = set()
    with np.errstate(all="ignore"):
        for shape in spec["logits"]:  # the loss: where the forward pass ends, before the backward kernels
            from ..kernels.loss import softmax_xent
            z = arrays([shape])[0]
            labels = rng.integers(0, shape[1], shape[0]).astype(np.int64)
            _try(lambda: softmax_xent(z, labels, np.empty_like(z), np.empty_like(z)))
        last = {step["op"]: k for k, step in enumerate(steps)}
        for k in sorted(range(len(steps)), key=lambda k: (last[steps[k]["op"]], k)):  # 2. what the run needs last
            step = steps[k]
            op, xs = OPS[step["op"]], arrays(step["inputs"])
            y = arrays([step["output"]])[0]
            cache = op.stand_in_cache(step["attrs"], xs, y)
            if cache is not None:
                _try(lambda: op.backward(step["attrs"], y, cache, params(step), context(step)))
                done.add(k)
        for k in reversed(range(len(steps))):  # 3. every layer from the last one back
            step = steps[k]
            op, p = OPS[step["op"]], params(step)
            result = _try(lambda: op.forward(step["attrs"], arrays(step["inputs"]), p, context(step)))
            if result is not None and k not in done:
                y, cache = result
                _try(lambda: op.backward(step["attrs"], np.ones_like(y), cache, p, context(step)))


def _try(fn):
    try:
        return fn()
    except Exception:  # noqa: BLE001 — a layer the made-up data does not suit: the run compiles it itself
        return None


def main(argv: list[str] | None = None) -> None:
    import argparse
    from pathlib import Path

    from ..graph.build import build
    from ..language.parser import parse
    from .executor import Engine
    parser = argparse.ArgumentParser(prog="python -m cnndsl.engine.ahead")
    parser.add_argument("network", type=Path, help="a .cnn file")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--mode", choices=("eval", "train"), default="eval")
    parser.add_argument("--input-grad", action="store_true")
    parser.add_argument("--loss", action="store_true")
    args = parser.parse_args(argv)
    from ..kernels import cache
    cache.claims(wait=False)  # a kernel the run is compiling: this layer is the run's
    engine = Engine(build(parse(args.network.read_text(encoding="utf-8"), str(args.network)), expectations=False))
    compile_from(job(engine, args.mode, args.batch, args.input_grad, args.loss))


if __name__ == "__main__":
    main()
