"""`compare`: the figures are each network's own, depth counts weight layers on the longest path, the
layers align by block and position, and the picture is written."""

import json
import subprocess
import sys

import pytest

import cnndsl
from cnndsl.teach.compare import compare, depth, layer_rows

from ..conftest import net_of


def test_depth_is_the_published_one():
    # VGG-16, ResNet-18/50 and GoogLeNet are named after it; LeNet-5 has 2 conv + 3 dense; AlexNet 5 + 3
    assert {n: depth(cnndsl.load(n)) for n in ("lenet5", "alexnet", "vgg16", "googlenet", "resnet18", "resnet50")} == {
        "lenet5": 5, "alexnet": 8, "vgg16": 16, "googlenet": 22, "resnet18": 18, "resnet50": 50}


def test_metrics_are_the_networks_own():
    nets = [cnndsl.load("lenet5"), cnndsl.load("googlenet")]
    result = compare(nets, batch=4)
    for net, m in zip(nets, result["networks"]):
        assert (m["params"], m["inference_params"], m["macs"], m["flops"]) == (
            net.param_count, net.inference_param_count, net.macs, net.flops)
        assert m["training_memory"] == net.footprint(4).total and m["activations"] == net.activation_bytes
    assert result["networks"][1]["inference_params"] == 6_998_552


def test_layers_align_by_block_and_position():
    a = net_of("block s(c) { conv c 3x3 pad=1; relu }\ns(8)\ns(8)\ngap\nflatten\ndense 10")
    b = net_of("block s(c) { conv c 3x3 pad=1; relu }\ns(8)\ns(16)\ngap\nflatten\ndense 10")
    rows = {r["position"]: r for r in layer_rows([a, b])}
    assert not rows["s1 #1"]["differs"] and rows["s2 #1"]["differs"]  # the second stage is wider in b
    assert rows["s2 #1"]["layers"][0]["params"] == 8 * 8 * 9 + 8 and rows["s2 #1"]["layers"][1]["params"] == 16 * 8 * 9 + 16
    assert rows["#3"]["layers"][0]["op"] == "dense 10" and rows["#3"]["differs"]  # 8 vs 16 inputs


@pytest.mark.slow  # the command end to end, in a subprocess
def test_the_cli_prints_json_and_draws(tmp_path):
    out = tmp_path / "c.png"
    run = subprocess.run([sys.executable, "-m", "cnndsl", "compare", "lenet5", "alexnet", "--json", "--plot", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert [m["params"] for m in data["networks"]] == [61706, 61100840] and data["layers"]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = subprocess.run([sys.executable, "-m", "cnndsl", "compare", "lenet5", "--plot", str(tmp_path / "c.txt")],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "must end in" in run.stderr
