"""Ops register themselves; everything about one op is on its class; the docs' op table is generated."""

from pathlib import Path

import pytest

import cnndsl
from cnndsl.ops import LAYERS, OPS, layer
from cnndsl.ops.base import REGISTRY, Op
from cnndsl.ops.doc import BEGIN, END, op_table

ROOT = Path(__file__).resolve().parents[2]


def test_the_op_table_in_the_docs_is_current():
    text = (ROOT / "docs" / "language.md").read_text()
    assert text.split(BEGIN)[1].split(END)[0].strip() == op_table().strip(), \
        "stale: run `python -m cnndsl.ops.doc docs/language.md`"


def test_every_op_carries_its_torch_mapping_and_help():
    for name, op in OPS.items():
        assert op.help, name
        if name != "input":
            assert type(op).torch_forward is not Op.torch_forward, name


def test_defining_an_op_registers_it_and_a_second_name_is_refused():
    class Double(Op):
        name = "double_for_test"
        help = "2x"
    try:
        assert REGISTRY["double_for_test"] is Double
        with pytest.raises(TypeError, match="two ops are named"):
            type("Again", (Op,), {"name": "double_for_test"})
    finally:
        del REGISTRY["double_for_test"]


def test_the_new_ops_are_layers_and_merges_of_the_language():
    assert layer("gmp") is OPS["globalmaxpool"] and OPS["globalmaxpool"] in [OPS[c.name] for c in LAYERS]
    net = cnndsl.parse("network SE\ninput 8x6x6\nx: conv 8 3x3 pad=1; relu\ngap\nconv 2 1x1; relu\n"
                       "conv 8 1x1; sigmoid\nmul @x\ngmp\nflatten", "se.cnn")
    nodes = dict(net.graph.nodes(data="node"))
    assert nodes["mul1"].shape == (8, 6, 6) and nodes["gmp1"].shape == (8, 1, 1)
    assert nodes["mul1"].flops == 8 * 36 and net.graph.edges["x", "mul1"]["role"] == "skip"
    with pytest.raises(cnndsl.CnnError, match="`mul` inputs do not broadcast: 4×1×1, 8×6×6"):
        cnndsl.parse("network B\ninput 8x6x6\nx: relu\ngap\nconv 4 1x1\nmul @x", "b.cnn")


def test_the_table_command_rewrites_a_stale_copy_and_leaves_a_current_one(tmp_path):
    import subprocess
    import sys
    copy = tmp_path / "language.md"
    copy.write_text((ROOT / "docs" / "language.md").read_text())
    run = subprocess.run([sys.executable, "-m", "cnndsl.ops.doc", str(copy)], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.startswith("unchanged")
    copy.write_text(copy.read_text().replace("max over all of H×W", "stale"))
    run = subprocess.run([sys.executable, "-m", "cnndsl.ops.doc", str(copy)], capture_output=True, text=True)
    assert run.stdout.startswith("rewrote") and "max over all of H×W" in copy.read_text()
