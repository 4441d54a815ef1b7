"""Inference against ONNX Runtime: cnndsl's eval forward and ONNX Runtime's on the same network and weights
(the file `cnndsl export` writes), in one process run.

    python benchmarks/bench_onnx.py                  # the table, and benchmarks/out/onnx.json
    python benchmarks/bench_onnx.py resnet18 --batch 1 8

ONNX Runtime runs with every graph optimization (it folds batch norm into the convolutions and fuses the
activations) and one intra-op thread per core; cnndsl with its own threads. Medians after a warm-up, as
bench_engine.py. Target (issue 17): cnndsl within 1.5× of ONNX Runtime at batch 1 and 8.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import machine  # noqa: E402 — benchmarks/machine.py: re-runs without the OpenBLAS overrides, first

sys.argv = machine.native_openblas(sys.argv)
import cnndsl  # noqa: E402

cnndsl.tune_process()
import numpy as np  # noqa: E402
from bench_engine import median_time  # noqa: E402

NETWORKS = ["lenet5", "alexnet", "vgg16", "googlenet", "resnet18", "resnet50", "mobilenetv2"]
OUT = Path(__file__).parent / "out"
ROOT = Path(__file__).resolve().parent.parent


def load(name: str):
    from cnndsl.resources import lesson_networks
    path = lesson_networks().get(name)
    return (cnndsl.load(path) if path else cnndsl.load(name)).init(0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("networks", nargs="*", default=NETWORKS, metavar="NETWORK")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--openblas-env", action="store_true", help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE if set")
    args = ap.parse_args()
    import onnxruntime as ort
    from cnndsl.export.onnx import to_onnx
    info = machine.describe()
    print(machine.banner(info))
    print(f"onnxruntime {ort.__version__}; medians of {args.repeat} after warm-up")
    print(f"{'network':<12} {'batch':>5} {'cnndsl':>10} {'ORT':>10} {'ratio':>6}")
    rows = []
    for name in args.networks:
        net = load(name)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = os.cpu_count() or 1
        session = ort.InferenceSession(to_onnx(net).SerializeToString(), opts, providers=["CPUExecutionProvider"])
        for batch in args.batch:
            x = np.random.default_rng(0).standard_normal((batch, *net.input_shape)).astype(np.float32)
            want = session.run(None, {"input": x})[0]
            got = net.forward(x, grad=False)
            err = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12))
            ours = median_time(lambda: net.forward(x, grad=False), args.repeat)
            theirs = median_time(lambda: session.run(None, {"input": x}), args.repeat)
            rows.append({"network": name, "batch": batch, "cnndsl_s": ours, "ort_s": theirs, "ratio": ours / theirs,
                         "max_rel_err": err})
            print(f"{name:<12} {batch:>5} {1e3 * ours:8.1f}ms {1e3 * theirs:8.1f}ms {ours / theirs:6.2f}", flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "onnx.json").write_text(json.dumps({"machine": info, "onnxruntime": ort.__version__, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
