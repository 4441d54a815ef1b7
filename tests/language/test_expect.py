"""`expect`: the current output's shape and receptive field, the totals so far; located errors that
show both values; `check --answers`."""

import subprocess
import sys

import pytest

import cnndsl
from cnndsl.errors import CnnArgumentError, CnnErrors, CnnExpectationError, CnnSyntaxError

from ..conftest import body_error, net_of


def test_expectations_that_hold_are_recorded():
    net = net_of("conv 6 5x5\nexpect shape=6x28x28 params=456 macs=352800 rf=5\nflatten\nexpect shape=4704")
    # by hand: 6 filters of 3·5·5 weights + 6 biases; 6·28·28 outputs × 75 MACs
    assert [(e["key"], e["holds"]) for e in net.expectations] == [
        ("shape", True), ("params", True), ("macs", True), ("rf", True), ("shape", True)]
    assert net.layers == ["conv1", "flatten1"]  # an expectation is no layer


def test_totals_are_of_the_layers_so_far():
    # by hand: 4·3 + 4 = 16, then 4·4 + 4 = 20 more; FLOPs 2·MACs + one add per output for the biases
    net = net_of("conv 4 1x1\nexpect params=16\nconv 4 1x1\n"
                 "expect params=36 flops=2*(4*3*1024)+4096+2*(4*4*1024)+4096")
    assert all(e["holds"] for e in net.expectations)


def test_a_wrong_value_is_an_error_at_its_column_showing_both_values():
    error = body_error("conv 6 5x5\nexpect shape=6x28x28 params=450\n")
    assert isinstance(error, CnnExpectationError)
    assert (error.pos.line, error.pos.column, error.pos.width) == (4, 29, 3)
    assert "450" in error.message and "456" in error.message and "6 more" in error.message


def test_every_wrong_expectation_is_reported_at_once():
    error = body_error("conv 6 5x5\nexpect shape=6x27x27\nconv 2 1x1\nexpect macs=1 rf=3x5\n")
    assert isinstance(error, CnnErrors)
    assert [type(e) for e in error.errors] == [CnnExpectationError] * 3
    assert [(e.pos.line, e.pos.column) for e in error.errors] == [(4, 14), (6, 13), (6, 18)]


def test_inside_a_block_it_is_checked_at_every_call():
    text = "block b(c) { conv c 3x3 pad=1\nexpect shape=c\n}\n"
    error = body_error(text + "b(4)\n")  # 4 features vs 4×32×32
    assert isinstance(error, CnnExpectationError) and "4×32×32" in error.message
    net = net_of("block b(c) { conv c 1x1; gap; flatten\nexpect shape=c params=4*c+c\n}\nb(4)\ndense 2\n", "4x3x3")
    assert [(e["actual"], e["holds"]) for e in net.expectations] == [((4,), True), (20, True)]


@pytest.mark.parametrize("body, kind, column", [
    ("expect size=3", CnnArgumentError, 8),        # unknown key
    ("expect params=12 params=12", CnnArgumentError, 18),
    ("expect params=3x3x3", CnnArgumentError, 15),  # a shape for a number
    ("expect shape=3x3", CnnArgumentError, 14),     # HxW is not a shape
    ("expect macs=-1", CnnArgumentError, 13),
    ("expect", CnnSyntaxError, 7),
    ("e: expect shape=3", CnnSyntaxError, 1),
])
def test_malformed_expectations(body, kind, column):
    error = body_error("conv 3 1x1\n" + body + "\n")
    assert isinstance(error, kind) and error.pos.line == 4 and error.pos.column == column


def test_shipped_architectures_state_their_published_totals():
    for name in ("lenet5", "vgg16", "resnet50"):
        net = cnndsl.load(name)
        totals = {e["key"]: e["actual"] for e in net.expectations}
        assert totals == {"params": net.param_count, "macs": net.macs} and all(e["holds"] for e in net.expectations)


def test_check_answers_prints_what_each_expect_should_say(tmp_path):
    path = tmp_path / "t.cnn"
    path.write_text("network T\ninput 1x8x8\nconv 2 3x3\nexpect shape=2x6x6 params=10\nflatten\ndense 3\n"
                    "expect params=0 macs=1\n")
    run = subprocess.run([sys.executable, "-m", "cnndsl", "check", str(path)], capture_output=True, text=True)
    assert run.returncode == 1 and "expected params=10, but the layers up to here have 20 parameters" in run.stderr
    run = subprocess.run([sys.executable, "-m", "cnndsl", "check", "--answers", str(path)], capture_output=True,
                         text=True)
    assert run.returncode == 0
    # conv 2·(1·9) + 2 = 20; dense 72·3 + 3 = 219 → 239; MACs 2·36·9 + 72·3 = 864
    assert run.stdout.splitlines() == [f"{path}:4:1: expect shape=2x6x6 params=20   # params was 10",
                                       f"{path}:7:1: expect params=239 macs=864   # params was 0; macs was 1"]
