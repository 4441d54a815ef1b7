"""LeNet-5 on the built-in digits with `cnndsl train`'s defaults (10 epochs), for seeds 0–9: the test
accuracy of each, their range, and the seconds each run took — the figures the README states.

    python benchmarks/bench_training.py                 # seeds 0–9: the table, and benchmarks/out/training.json
    python benchmarks/bench_training.py --seeds 3       # seeds 0–2
    python benchmarks/bench_training.py --out DIR       # the JSON elsewhere (benchmarks/results/ holds the record)
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import time
from pathlib import Path

from rich.console import Console

import cnndsl
from cnndsl.training.data import load_data
from cnndsl.training.trainer import TrainConfig, train

OUT = Path(__file__).parent / "out"  # untracked; benchmarks/results/ keeps the committed record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10, metavar="K", help="seeds 0…K−1 (default 10)")
    parser.add_argument("--out", type=Path, default=OUT, metavar="DIR", help=f"where training.json goes (default {OUT})")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    data = load_data("digits", (1, 32, 32), 10)
    runs = []
    for seed in range(args.seeds):
        start = time.perf_counter()
        history = train(cnndsl.load("lenet5"), data, TrainConfig(seed=seed), Console(file=io.StringIO()))
        seconds = time.perf_counter() - start
        runs.append({"seed": seed, "test_accuracy": history.test_accuracy, "seconds": seconds})
        print(f"seed {seed}: test accuracy {100 * history.test_accuracy:.2f} % in {seconds:.1f} s", flush=True)
    accuracies = [r["test_accuracy"] for r in runs]
    record = {"network": "lenet5", "data": "digits", "epochs": 10, "test_images": len(data.test.y),
              "cpu": platform.processor() or platform.machine(), "runs": runs,
              "min_test_accuracy": min(accuracies), "max_test_accuracy": max(accuracies)}
    print(f"seeds 0–{args.seeds - 1}: {100 * min(accuracies):.1f} %–{100 * max(accuracies):.1f} %")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "training.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
