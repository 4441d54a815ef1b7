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
    assert data["totals"] == {"params": 61_706, "inference_params": 61_706, "macs": 416_520,
                              "flops": data["totals"]["flops"], "activation_bytes": data["totals"]["activation_bytes"]}
    assert list(data["layers"][0]) == ["name", "op", "block", "output_shape", "params", "macs", "flops",
                                       "receptive_field", "line"]
    conv1 = data["layers"][0]
    assert conv1 == {"name": "conv1", "op": "conv", "block": None, "output_shape": [6, 28, 28], "params": 156,
                     "macs": 117_600, "flops": 2 * 117_600 + 6 * 28 * 28, "receptive_field": 5, "line": 6}
    assert data["input"] == [1, 32, 32] and data["output"] == [10]


def test_flops_rule():
    """2×MACs + bias adds for conv/dense; one per element for activations; window size for pooling."""
    net = cnndsl.parse("network T\ninput 2x4x4\nconv 3 3x3 pad=1\nrelu\nmaxpool 2\nbn\nflatten\ndense 5 bias=false")
    f = {n: net.graph.nodes[n]["flops"] for n in net.layers}
    assert f == {"conv1": 2 * (48 * 18) + 48, "relu1": 48, "maxpool1": 12 * 4, "bn1": 24, "flatten1": 0,
                 "dense1": 2 * 60}
    assert net.activation_bytes == 4 * (48 + 48 + 12 + 12 + 12 + 5)
