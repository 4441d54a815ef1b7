"""`explain`: every formula, evaluated, gives the value shown, and the value is the graph's own; the
figures of the issue by hand."""

import json
import re
import subprocess
import sys

import pytest

import cnndsl
from cnndsl.teach.explain import explain, explain_text

from ..conftest import net_of


def evaluate(formula: str) -> int:
    """The arithmetic of a formula as Python: names before numbers dropped, ⌊a/b⌋ → a // b, ⌈a/b⌉ → -(-a // b)."""
    text = re.sub(r"[A-Za-z_][\w.]*(?= \d)", "", formula.replace("(the aux heads)", "")).replace(",", "")
    text = text.replace("·", "*").replace("−", "-")
    text = re.sub(r"⌊\((.*?)\)/(\d+)⌋", r"((\1) // \2)", text)
    text = re.sub(r"⌈\((.*?)\)/(\d+)⌉", r"(-(-(\1) // \2))", text)
    assert re.fullmatch(r"[\d\s+*/()\-]+", text), formula
    return eval(text)  # noqa: S307 — digits and operators only, checked above


NUMERIC = ("output height", "output width", "output height, width", "channels", "params", "MACs", "FLOPs",
           "memory", "inference params", "inference MACs")


def check(result):
    for step in result["steps"]:
        if step.what in NUMERIC and "smaller terms" not in step.formula and step.formula != "the input's shape":
            assert evaluate(step.formula) == step.value, (result["title"], step)
        if step.what in ("receptive field", "jump") and "×" not in step.formula and "input" not in step.formula \
                and "of its output" not in step.why and "of the output" not in step.why:
            assert (evaluate(step.formula),) * 2 == step.value, (result["title"], step)


@pytest.mark.parametrize("name", ["lenet5", "alexnet", "googlenet", "resnet18", "vgg16"])
def test_every_formula_of_every_layer_gives_the_graphs_value(name):
    net = cnndsl.load(name)
    for layer in net.layers:
        result = explain(net, layer)
        check(result)
        node = net.node(layer)
        values = {s.what: s.value for s in result["steps"]}
        assert values["params"] == node.n_params and values["FLOPs"] == node.flops
        assert values.get("MACs", 0) == node.macs and values["memory"] == node.act_bytes
        assert values["receptive field"] == node.rf
    for block in net.graph.graph["blocks"]:
        check(explain(net, block))
    check(explain(net))


def test_unusual_layers_explain_themselves_exactly():
    net = net_of("conv 6 3x5 stride=2x1 pad=1x2 dilation=2 groups=3\nmaxpool 3 stride=2 ceil=true\n"
                 "a: conv 6 1x1; relu\nb: conv 6 1x1\nmul @a\nlrn size=3\nbn\nadd @b\nconcat @a\ngap\nflatten\n"
                 "dropout 0.5\ndense 7\nsoftmax", "3x17x19")
    for layer in net.layers:
        check(explain(net, layer))


def test_the_issues_figures_by_hand():
    steps = {s.what: s for s in explain(cnndsl.load("resnet18"), "conv1")["steps"]}
    assert steps["output height, width"].formula == "⌊(224 + 2·3 − 7)/2⌋ + 1" and steps["output height, width"].value == 112
    assert steps["MACs"].formula == "64·112·112 · 3·7·7" and steps["MACs"].value == 118_013_952
    assert steps["params"].formula == "weight 64·3·7·7" and steps["params"].value == 9408  # ResNet's conv1: no bias
    lenet = {s.what: s for s in explain(cnndsl.load("lenet5"), "conv1")["steps"]}
    assert lenet["params"].formula == "weight 6·1·5·5 + bias 6" and lenet["params"].value == 156
    totals = {s.what: s for s in explain(cnndsl.load("googlenet"))["steps"]}
    assert totals["inference params"].value == 6_998_552 and totals["params"].value == 13_378_280


@pytest.mark.slow  # the command end to end, in a subprocess
def test_the_cli_prints_text_and_json_and_names_a_near_miss():
    run = subprocess.run([sys.executable, "-m", "cnndsl", "explain", "lenet5", "conv2"], capture_output=True, text=True)
    assert run.returncode == 0 and "16·10·10 · 6·5·5 = 240,000" in run.stdout
    run = subprocess.run([sys.executable, "-m", "cnndsl", "explain", "lenet5", "--json"], capture_output=True, text=True)
    data = json.loads(run.stdout)
    assert {s["what"]: s["value"] for s in data["steps"]}["params"] == 61706
    run = subprocess.run([sys.executable, "-m", "cnndsl", "explain", "lenet5", "conv9"], capture_output=True, text=True)
    assert run.returncode == 1 and "did you mean" in run.stderr and "Traceback" not in run.stderr


def test_long_sums_break_between_terms():
    text = explain_text(explain(cnndsl.load("googlenet"), "inception3a"), width=60)
    assert all(len(line) <= 60 for line in text.splitlines()[3:])
    assert all(not line.rstrip().endswith(("b1.conv1", "b2.conv1")) for line in text.splitlines())
