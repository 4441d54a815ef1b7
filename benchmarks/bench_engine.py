"""cnndsl against PyTorch (CPU) on the same networks and shapes, in one process run.

    python benchmarks/bench_engine.py                  # all six networks: the table, and benchmarks/out/engine.json
    python benchmarks/bench_engine.py --out DIR        # the JSON elsewhere (benchmarks/results/ holds the record)
    python benchmarks/bench_engine.py resnet18 lenet5  # a subset
    python benchmarks/bench_engine.py --no-memory      # skip the separate-process memory runs
    python benchmarks/bench_engine.py --batch 1        # every network at batch 1 (engine-batch1.json)

Forward: inference (eval, nothing kept for backward). Training step: forward in training mode, the
softmax-cross-entropy loss (aux heads weighted) and backward — no optimizer, as docs/reference.md's figures.
GFLOP/s count 2 × MACs for a forward and 3 × that for a step. Times are medians after a warm-up (one
call, and at least a second).
Peak memory is measured in a fresh process per library and network: the rise of the resident set
during one training step after a warm-up step (Linux's VmHWM, reset just before the step), with glibc
told to return large blocks to the system when freed, so that the resident set follows live memory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import machine  # noqa: E402 — benchmarks/machine.py: re-runs without the OpenBLAS overrides, first

sys.argv = machine.native_openblas(sys.argv)
import cnndsl  # first, and tuned as the `cnndsl` command tunes itself: OPENBLAS_THREAD_TIMEOUT before

cnndsl.tune_process()
# NumPy loads OpenBLAS (torch imports NumPy; imported first, it would leave OpenBLAS's idle threads
# spinning for 0.1 s after every product, and LeNet-5's step measured 1.5× slower)
import numpy as np

NETWORKS = {"lenet5": 256, "alexnet": 16, "vgg16": 2, "googlenet": 8, "resnet18": 8, "resnet50": 4}
OUT = Path(__file__).parent / "out"  # untracked; benchmarks/results/ keeps the committed record


WARM_UP_S = 1.0  # at least this long, and one call, before timing: the first passes after set-up ran
# up to 1.7× slower here for a few calls (compilation, the heap growing, the clock), for both libraries


def median_time(fn, repeat: int, warm_up_s: float = WARM_UP_S) -> float:
    start = time.perf_counter()
    fn()  # compiles numba kernels on first use
    while time.perf_counter() - start < warm_up_s:
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def setup(name: str, batch: int, seed: int = 0):
    import cnndsl
    net = cnndsl.load(name).init(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch,) + net.input_shape).astype(np.float32)
    labels = rng.integers(0, net.output_shape[0], batch)
    return net, x, labels


def cnndsl_fns(net, x, labels):
    eng = net.engine

    def forward():
        eng.forward(x, mode="eval", grad=False)

    def step():
        eng.loss(x, labels, mode="train")
        eng.backward(input_grad=False)  # as PyTorch, whose input does not require a gradient
    return forward, step


def torch_fns(net, x, labels):
    import torch
    import torch.nn.functional as F

    from cnndsl.export.torch import to_torch
    model = to_torch(net)
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)
    heads = {h["node"]: h["weight"] for h in net.aux_heads}

    def logits(out, node):
        return out if net.graph.nodes[node]["node"].op != "softmax" else None

    def forward():
        model.eval()
        with torch.no_grad():
            model(xt)

    def step():
        model.train()
        model.zero_grad(set_to_none=True)
        # the trailing softmax is fused with the loss in cnndsl; here: log of the probabilities
        out = model(xt)
        loss = F.nll_loss(torch.log(out.clamp_min(1e-30)), yt)
        for node, w in heads.items():
            loss = loss + w * F.nll_loss(torch.log(model.aux_outputs[node].clamp_min(1e-30)), yt)
        loss.backward()
    return forward, step


def measure(name: str, batch: int, repeat: int) -> dict:
    net, x, labels = setup(name, batch)
    row = {"network": name, "batch": batch, "macs": net.macs, "inference_macs": net.inference_macs}
    for lib, make in (("cnndsl", cnndsl_fns), ("torch", torch_fns)):
        forward, step = make(net, x, labels)
        row[f"{lib}_forward_s"] = median_time(forward, repeat)
        row[f"{lib}_step_s"] = median_time(step, repeat)
    row["forward_ratio"] = row["cnndsl_forward_s"] / row["torch_forward_s"]
    row["step_ratio"] = row["cnndsl_step_s"] / row["torch_step_s"]
    fwd_flop = 2 * net.inference_macs * batch
    step_flop = 3 * 2 * net.macs * batch
    for lib in ("cnndsl", "torch"):
        row[f"{lib}_forward_gflops"] = fwd_flop / row[f"{lib}_forward_s"] / 1e9
        row[f"{lib}_step_gflops"] = step_flop / row[f"{lib}_step_s"] / 1e9
    return row


def _rss(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def peak_child(lib: str, name: str, batch: int) -> None:
    """In a fresh process: one warm-up step, then the resident-set rise of one more step."""
    net, x, labels = setup(name, batch)
    _, step = (cnndsl_fns if lib == "cnndsl" else torch_fns)(net, x, labels)
    step()
    import gc
    gc.collect()
    before = _rss("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak resident set
    step()
    print(json.dumps({"peak_rise_bytes": _rss("VmHWM") - before}))


def peak(lib: str, name: str, batch: int) -> int:
    # A fixed mmap threshold makes glibc hand large blocks back to the system when they are freed, so the
    # resident set follows live memory for both libraries (else the first step's heap stays resident).
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")
    out = subprocess.run([sys.executable, __file__, "--peak-child", lib, name, str(batch)], capture_output=True,
                         text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_rise_bytes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("networks", nargs="*", default=list(NETWORKS), metavar="NETWORK",
                        help=f"some of {', '.join(NETWORKS)} (default: all)")
    parser.add_argument("--repeat", type=int, default=5, metavar="K", help="timed runs per median (default 5)")
    parser.add_argument("--no-memory", action="store_true", help="skip the separate-process peak-memory runs")
    parser.add_argument("--out", type=Path, default=OUT, metavar="DIR", help=f"where engine.json goes (default {OUT})")
    parser.add_argument("--batch", type=int, metavar="N",
                        help="one batch size for every network (default: each network's benchmark batch)")
    parser.add_argument("--peak-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--openblas-env", action="store_true",
                        help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE if set (default: run without them)")
    args = parser.parse_args()
    if unknown := [n for n in args.networks if n not in NETWORKS]:
        parser.error(f"no benchmark network {', '.join(unknown)}; choose from {', '.join(NETWORKS)}")
    if args.batch is not None and args.batch < 1:
        parser.error(f"--batch must be at least 1, not {args.batch}")
    if args.peak_child:
        lib, name, batch = args.peak_child
        peak_child(lib, name, int(batch))
        return
    import torch
    rows = []
    info = machine.describe()
    print(machine.banner(info))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; medians of {args.repeat} after warm-up")
    head = (f"{'network':<10} {'batch':>5} | {'fwd cnndsl':>10} {'torch':>8} {'ratio':>6} | {'step cnndsl':>11} "
            f"{'torch':>8} {'ratio':>6} | {'GFLOP/s step':>13} | {'peak MB':>15} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    for name in args.networks:
        batch = args.batch or NETWORKS[name]
        row = measure(name, batch, args.repeat if name != "lenet5" and batch > 1 else 4 * args.repeat)
        if not args.no_memory:
            row["cnndsl_peak_bytes"] = peak("cnndsl", name, batch)
            row["torch_peak_bytes"] = peak("torch", name, batch)
            row["peak_ratio"] = row["cnndsl_peak_bytes"] / max(row["torch_peak_bytes"], 1)
        rows.append(row)
        mem = (f"{row['cnndsl_peak_bytes'] / 1e6:7.0f}/{row['torch_peak_bytes'] / 1e6:<7.0f} {row['peak_ratio']:6.2f}"
               if not args.no_memory else f"{'—':>15} {'':>6}")
        print(f"{name:<10} {row['batch']:>5} | {1e3 * row['cnndsl_forward_s']:8.1f}ms {1e3 * row['torch_forward_s']:6.1f}ms "
              f"{row['forward_ratio']:6.2f} | {1e3 * row['cnndsl_step_s']:9.1f}ms {1e3 * row['torch_step_s']:6.1f}ms "
              f"{row['step_ratio']:6.2f} | {row['cnndsl_step_gflops']:5.0f} vs {row['torch_step_gflops']:5.0f} | {mem}",
              flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / ("engine.json" if args.batch is None else f"engine-batch{args.batch}.json")
    out.write_text(json.dumps({"machine": info, "torch": torch.__version__, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
