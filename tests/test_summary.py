"""The summary table (golden files) and its JSON form."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import cnndsl

GOLDEN = Path(__file__).parent / "golden"
CASES = {"lenet5": None, "googlenet_depth0": 0, "resnet18_depth1": 1, "resnet50_depth0": 0}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_summary(case):
    """Regenerate with CNNDSL_UPDATE_GOLDEN=1 after a deliberate change, and read the diff."""
    text = cnndsl.load(case.split("_")[0]).summary(depth=CASES[case])
    path = GOLDEN / f"{case}.txt"
    if os.environ.get("CNNDSL_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_summary_footer_says_macs_and_flops_apart():
    text = cnndsl.load("googlenet").summary(depth=0)
    assert "MACs:         1,591,044,096" in text and "1,582,671,872 MACs at inference" in text
    assert "13,378,280" in text and "6,998,552 at inference" in text and "FLOPs:" in text


def test_block_subtotals_add_up():
    net = cnndsl.load("googlenet")
    data = net.to_dict()
    in_3a = [layer for layer in data["layers"] if layer["block"] == "inception3a"]
    assert sum(layer["params"] for layer in in_3a) == 163_696  # Table 1 of the paper: 159K
    text = net.summary(depth=0)
    assert any(line.split()[:1] == ["inception3a"] and "163,696" in line for line in text.splitlines())


def test_json_format_exactly():
    run = subprocess.run([sys.executable, "-m", "cnndsl", "summary", "lenet5", "--json"], capture_output=True,
                         text=True, check=True)
    data = json.loads(run.stdout)
    assert list(data) == ["name", "input", "output", "totals", "layers"]
    # FLOPs: 2·MACs + conv/dense bias adds (4,704 + 1,600 + 120 + 84 + 10) + tanh, pooling and softmax work
    assert data["totals"] == {"params": 61_706, "inference_params": 61_706, "macs": 416_520,
                              "flops": 852_400, "activation_bytes": 60_048}
    assert list(data["layers"][0]) == ["name", "op", "block", "output_shape", "params", "macs", "flops",
                                       "receptive_field", "line", "input_shapes", "params_percent", "memory",
                                       "kernel"]
    conv1 = data["layers"][0]
    assert conv1 == {"name": "conv1", "op": "conv", "block": None, "output_shape": [6, 28, 28], "params": 156,
                     "macs": 117_600, "flops": 2 * 117_600 + 6 * 28 * 28, "receptive_field": 5, "line": 6,
                     "input_shapes": [[1, 32, 32]], "params_percent": 100 * 156 / 61_706, "memory": 4 * 6 * 28 * 28,
                     "kernel": "5"}
    assert data["input"] == [1, 32, 32] and data["output"] == [10]


def test_flops_rule():
    """2×MACs + bias adds for conv/dense; one per element for activations; window size for pooling."""
    net = cnndsl.parse("network T\ninput 2x4x4\nconv 3 3x3 pad=1\nrelu\nmaxpool 2\nbn\nflatten\ndense 5 bias=false")
    f = {n: net.graph.nodes[n]["node"].flops for n in net.layers}
    assert f == {"conv1": 2 * (48 * 18) + 48, "relu1": 48, "maxpool1": 12 * 4, "bn1": 24, "flatten1": 0,
                 "dense1": 2 * 60}
    assert net.activation_bytes == 4 * (48 + 48 + 12 + 12 + 12 + 5)


def test_columns_in_the_manner_of_torchinfo():
    net = cnndsl.load("lenet5")
    cols = ("input", "output", "params", "params%", "macs", "flops", "memory", "train", "rf", "kernel")
    from cnndsl.summary import summary_text
    text = summary_text(net, columns=cols, batch=4)
    header = text.splitlines()[2].split()
    assert header == ["Layer", "Op", "Input", "Output", "Params", "Params", "%", "MACs", "FLOPs", "Memory", "Train",
                      "mem", "RF", "Kernel"]
    rows = {line.split()[0]: line.split() for line in text.splitlines()[4:] if line.strip()}
    # 156 params = 0.3 % of 61,706; 6×28×28 floats = 18.82 kB; training: 16 B a parameter (weights,
    # gradient, Adam's two moments) = 2,496 B; tanh keeps its own output for backward, not the conv's
    assert rows["conv1"] == ["conv1", "conv", "6", "5×5", "1×32×32", "6×28×28", "156", "0.3", "%", "117,600",
                             "239,904", "18.82", "kB", "2.50", "kB", "5", "5"]
    assert rows["tanh1"][-3:] == ["75.26", "kB", "5"]  # 4 images · 4 B · 4,704 floats


def test_training_memory_adds_up_to_what_backward_keeps():
    from cnndsl.summary import training_bytes
    net = cnndsl.load("resnet18")
    per_layer = sum(training_bytes(net, 8).values())
    f = net.footprint(8, "train", True, "adam")
    kept_and_weights = f.weights + f.gradients + f.optimizer
    assert kept_and_weights < per_layer <= f.total  # the rest of the step: gradients in flight, workspace


def test_json_carries_every_column_and_the_memory(tmp_path):
    run = subprocess.run([sys.executable, "-m", "cnndsl", "summary", "resnet18", "--json", "--batch", "8"],
                         capture_output=True, text=True, check=True)
    data = json.loads(run.stdout)
    assert {"input_shapes", "params_percent", "memory", "kernel", "training_memory"} <= set(data["layers"][0])
    assert data["memory"]["batch"] == 8 and data["memory"]["training"]["total"] > data["memory"]["inference"]["total"]
    assert abs(sum(layer["params_percent"] for layer in data["layers"]) - 100) < 1e-6


def test_a_wide_table_fits_an_80_column_terminal():
    import io
    from rich.console import Console
    from cnndsl.summary import print_summary
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True, color_system=None)
    print_summary(cnndsl.load("googlenet"), console, depth=1)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in out.getvalue().splitlines()[:40]) <= 80
    assert any(line.split()[:2] == ["b2.conv2", "conv"] for line in lines)  # named within its block


def test_unknown_columns_and_train_without_a_batch_are_refused():
    bad = subprocess.run([sys.executable, "-m", "cnndsl", "summary", "lenet5", "--columns", "params,foo"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "unknown column 'foo'" in bad.stderr and "params%" in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "cnndsl", "summary", "lenet5", "--columns", "train"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "needs --batch" in bad.stderr
