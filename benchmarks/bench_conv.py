"""Per-kernel convolution figures on the shapes of the benchmark networks: forward, input gradient (dX)
and weight gradient (dW) in GFLOP/s (2 × MACs each), next to PyTorch's kernels on the same shapes and
the machine's float32 matrix-product rate (NumPy's BLAS, 2048³).

    python benchmarks/bench_conv.py            # every distinct conv shape of the six networks
    python benchmarks/bench_conv.py resnet18   # one network's
    python benchmarks/bench_conv.py --batch 1  # every shape at batch 1 (default: each network's benchmark batch)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

import machine  # noqa: E402 — benchmarks/machine.py: re-runs without the OpenBLAS overrides, first

sys.argv = machine.native_openblas(sys.argv)
import cnndsl  # first, and tuned as the `cnndsl` command tunes itself, before NumPy loads OpenBLAS

cnndsl.tune_process()
import numpy as np
from bench_engine import NETWORKS as BATCH
from bench_engine import median_time

from cnndsl.kernels.conv import conv_backward, conv_forward


WARM_UP_S = 0.1  # of calls before each timing: after the set-up of a shape (its random arrays, on one core)
# the next few calls ran up to 1.9× slower at batch 1 on a KVM guest, the idle cores waking up (entry 67)


def median_s(fn, repeat: int = 5) -> float:
    return median_time(fn, repeat, warm_up_s=WARM_UP_S)


def shapes(names, batch: int | None):
    seen = {}
    for name in names:
        net = cnndsl.load(name)
        n = batch or BATCH[name]
        for node in net.layers:
            d = net.node(node)
            if d.op != "conv":
                continue
            a = d.attrs
            x_shape = (n,) + net.node(d.inputs[0]).shape
            key = (x_shape, d.params["weight"], a["stride"], a["pad"], a["dilation"], a["groups"])
            seen.setdefault(key, (name, node, d.macs * n, d.shape[1:]))
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("networks", nargs="*", metavar="NETWORK", help=f"some of {', '.join(BATCH)} (default: all)")
    default = Path(__file__).parent / "out"  # untracked; benchmarks/results/ keeps the committed record
    parser.add_argument("--out", type=Path, default=default, metavar="DIR", help=f"where conv.json goes (default {default})")
    parser.add_argument("--batch", type=int, metavar="N", help="one batch size for every network")
    args = parser.parse_args()
    if args.batch is not None and args.batch < 1:
        parser.error(f"--batch must be at least 1, not {args.batch}")
    names = args.networks or list(BATCH)
    if unknown := [n for n in names if n not in BATCH]:
        parser.error(f"no benchmark network {', '.join(unknown)}; choose from {', '.join(BATCH)}")
    import torch
    print(machine.banner())
    b = np.random.rand(2048, 2048).astype(np.float32)
    matmul = 2 * 2048**3 / median_s(lambda: b @ b) / 1e9
    print(f"float32 matrix product 2048³ (NumPy's BLAS): {matmul:.0f} GFLOP/s; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    head = f"{'layer':<34} {'input':>16} {'weight':>14} | {'fwd':>9} {'dX':>9} {'dW':>9}   GFLOP/s cnndsl / torch"
    print(head)
    print("-" * len(head))
    rows = []
    rng = np.random.default_rng(0)
    for (xs, ws, stride, pad, dil, groups), (name, node, macs, out_hw) in shapes(names, args.batch).items():
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal(ws).astype(np.float32) * 0.05
        dy = rng.standard_normal((xs[0], ws[0]) + tuple(out_hw)).astype(np.float32)
        flop = 2 * macs
        ours = {
            "fwd": median_s(lambda: conv_forward(x, w, None, stride, pad, dil, groups, out_hw)),
            "dX": median_s(lambda: conv_backward(dy, x, w, False, stride, pad, dil, groups, True, False)),
            "dW": median_s(lambda: conv_backward(dy, x, w, False, stride, pad, dil, groups, False, True)),
        }
        xt, wt, dyt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(dy)

        def tb(mask):
            return lambda: torch.ops.aten.convolution_backward(dyt, xt, wt, None, list(stride), list(pad), list(dil),
                                                               False, [0, 0], groups, mask)
        with torch.no_grad():
            theirs = {
                "fwd": median_s(lambda: torch.nn.functional.conv2d(xt, wt, None, stride, pad, dil, groups)),
                "dX": median_s(tb([True, False, False])),
                "dW": median_s(tb([False, True, False])),
            }
        row = {"network": name, "layer": node, "input": list(xs), "weight": list(ws), "stride": list(stride),
               "flop": flop} | {f"cnndsl_{k}_gflops": flop / v / 1e9 for k, v in ours.items()} | {
               f"torch_{k}_gflops": flop / v / 1e9 for k, v in theirs.items()}
        rows.append(row)
        cells = " ".join(f"{row[f'cnndsl_{k}_gflops']:4.0f}/{row[f'torch_{k}_gflops']:<4.0f}" for k in ("fwd", "dX", "dW"))
        print(f"{name + ':' + node:<34} {'x'.join(map(str, xs)):>16} {'x'.join(map(str, ws)):>14} | {cells}", flush=True)
    out = args.out / "conv.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine.describe(), "matmul_gflops": matmul, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
