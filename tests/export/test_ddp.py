"""examples/ddp_train.py: two processes (gloo, CPU) train one network with DistributedDataParallel; both
end with identical weights, the loss falls, and cnndsl reads the weights back and classifies with them."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnndsl

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_processes_train_to_the_same_weights(tmp_path):
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
                          str(ROOT / "examples" / "ddp_train.py"), "lenet5", "--steps", "60", "--out",
                          str(tmp_path / "w.npz"), "--report", str(tmp_path / "rank{rank}.json")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-1000:] + run.stderr[:3000]  # the failing rank's own words come first
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in reports] == [2, 2]
    assert reports[0]["weights_sha256"] == reports[1]["weights_sha256"]  # DDP kept the replicas equal
    losses = reports[0]["losses"]
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    net = cnndsl.load("lenet5").load_weights(tmp_path / "w.npz")
    from cnndsl.training.data import load_data
    data = load_data("digits", tuple(net.input_shape), 10)
    accuracy = np.mean(np.argmax(net.logits(data.test.x), 1) == data.test.y)
    assert accuracy > 0.8  # 60 steps of SGD on the digits: far above chance (0.1)
