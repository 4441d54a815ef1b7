"""Expansion and shape inference: names, shapes, merges, blocks, labels, aux heads, receptive fields."""

import pytest

from ..conftest import body_error, net_of


def nodes(net):
    return dict(net.graph.nodes(data="node"))


def test_lenet_shapes_and_source_order():
    net = net_of("conv 6 5x5; tanh\navgpool 2x2\nconv 16 5x5\nflatten\nfc 10\nsoftmax", "1x32x32")
    assert net.layers == ["conv1", "tanh1", "avgpool1", "conv2", "flatten1", "fc1", "softmax1"]
    assert [nodes(net)[n].shape for n in net.layers] == [
        (6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (1600,), (10,), (10,)]
    assert nodes(net)["fc1"].op == "dense" and nodes(net)["conv1"].line == 3


@pytest.mark.parametrize("stmt, shape", [
    ("conv 8 3x3 stride=2", (8, 15, 15)),
    ("conv 8 3x3 pad=same", (8, 32, 32)),
    ("conv 8 3x3 pad=same stride=2", (8, 16, 16)),
    ("conv 8 3x3 dilation=2 pad=2", (8, 32, 32)),
    ("conv 8 1x7 pad=0x3", (8, 32, 32)),
    ("conv 6 3x3 groups=3", (6, 30, 30)),
    ("maxpool 3x3 stride=2", (3, 15, 15)),
    ("maxpool 3x3 stride=2 ceil=true", (3, 16, 16)),
    ("maxpool 2", (3, 16, 16)),
    ("avgpool 3x3 stride=1 pad=1", (3, 32, 32)),
    ("gap", (3, 1, 1)),
    ("lrn", (3, 32, 32)),
    ("bn", (3, 32, 32)),
])
def test_output_shapes(stmt, shape):
    net = net_of(stmt)
    assert nodes(net)[net.output].shape == shape


def test_params_and_macs_of_grouped_dilated_conv():
    net = net_of("conv 8 3x3 groups=2 dilation=2 bias=false", "4x32x32")
    data = nodes(net)["conv1"]
    assert data.params == {"weight": (8, 2, 3, 3)} and data.n_params == 144
    assert data.macs == 8 * 28 * 28 * 2 * 9


def test_batchnorm_params_and_running_state():
    data = nodes(net_of("bn"))["bn1"]
    assert data.params == {"weight": (3,), "bias": (3,)} and data.state["running_var"] == (3,)


def test_inception_block_names_concat_and_subtotals():
    net = net_of("""
block inception(c1, c3r, c3, pp) {
  concat {
    branch { conv c1 1x1; relu }
    branch { conv c3r 1x1; relu; conv c3 3x3 pad=1; relu }
    branch { maxpool 3x3 stride=1 pad=1; conv pp 1x1; relu }
  }
}
inception3a: inception(4, 2, 8, 3)
inception(1, 1, 1, 1)
""")
    g = net.graph
    assert "inception3a.b2.conv2" in g and "inception3a.concat1" in g and "inception1.b3.conv1" in g
    assert nodes(net)["inception3a.concat1"].shape == (15, 32, 32)
    assert nodes(net)["inception3a.concat1"].inputs == ("inception3a.b1.relu1", "inception3a.b2.relu2",
                                                          "inception3a.b3.relu1")
    assert nodes(net)["inception3a.b2.conv2"].blocks == ("inception3a",)
    assert g.graph["blocks"]["inception3a"]["args"] == {"c1": 4, "c3r": 2, "c3": 8, "pp": 3}


def test_densenet_identity_branch():
    net = net_of("concat { branch {} branch { bn; relu; conv 4 3x3 pad=1 } }")
    cat = nodes(net)["concat1"]
    assert cat.inputs[0] == "input" and cat.shape == (7, 32, 32)


def test_add_with_two_identity_branches_keeps_both_inputs():
    net = net_of("add { branch {} branch {} }")
    assert nodes(net)["add1"].inputs == ("input", "input")


def test_residual_identity_and_projection():
    net = net_of("conv 8 3x3 pad=1\nresidual { conv 8 3x3 pad=1 }\nresidual { conv 16 3x3 stride=2 pad=1 } "
                 "shortcut { conv 16 1x1 stride=2 }")
    add1, add2 = nodes(net)["add1"], nodes(net)["add2"]
    assert add1.inputs == ("conv2", "conv1") and add1.skip == "identity"
    assert add2.inputs == ("conv3", "shortcut.conv1") and add2.skip == "projection"
    assert add2.shape == (16, 16, 16)


def test_repeat_and_block_parameters_in_expressions():
    net = net_of("block stage(ch, n) { repeat n { conv ch*2 3x3 pad=1; relu } }\nstage(2, n=3)")
    convs = [n for n in net.layers if nodes(net)[n].op == "conv"]
    assert convs == ["stage1.conv1", "stage1.conv2", "stage1.conv3"]
    assert all(nodes(net)[c].shape == (4, 32, 32) for c in convs)


def test_block_default_may_use_earlier_parameter():
    net = net_of("block b(c, d=c*2) { conv d 1x1 }\nb(3)")
    assert nodes(net)["b1.conv1"].shape == (6, 32, 32)


def test_labels_from_and_ref_merges():
    net = net_of("a: conv 4 3x3 pad=1\nb: conv 4 3x3 pad=1\nfrom @a\nconv 4 1x1\nadd @b\nconcat @a")
    assert nodes(net)["add1"].inputs == ("conv1", "b")
    assert nodes(net)["concat1"].inputs == ("add1", "a") and nodes(net)["concat1"].shape == (8, 32, 32)
    assert net.graph.has_edge("a", "conv1")


def test_label_binds_only_the_statement_it_prefixes():
    net = net_of("a: conv 8 3x3 pad=1; relu\nadd @a")
    assert nodes(net)["add1"].inputs == ("relu1", "a")


def test_labels_inside_a_repeat_rebind_each_pass():
    net = net_of("repeat 2 { x: conv 3 3x3 pad=1; add @x }")
    assert nodes(net)["add2"].inputs[1].startswith("x")


def test_aux_heads_are_training_only_and_weighted():
    net = net_of("conv 4 3x3\naux weight=0.5 { gap; flatten; dense 10 }\nconv 4 3x3\ngap; flatten; dense 10")
    (head,) = net.aux_heads
    assert head["weight"] == 0.5 and head["node"] == "aux1.dense1"
    assert nodes(net)["aux1.dense1"].train_only and not nodes(net)["dense1"].train_only
    assert nodes(net)["conv2"].inputs == ("conv1",)
    assert net.param_count == net.inference_param_count + 4 * 10 + 10


def test_receptive_field_and_jump():
    net = net_of("conv 4 3x3\nconv 4 3x3\nmaxpool 2\nconv 4 3x3 dilation=2", "3x64x64")
    rf = {n: nodes(net)[n].rf for n in net.layers}
    assert rf == {"conv1": (3, 3), "conv2": (5, 5), "maxpool1": (6, 6), "conv3": (14, 14)}
    assert nodes(net)["conv3"].jump == (2, 2)


def test_names_are_stable_under_an_unrelated_edit():
    before = net_of("conv 4 3x3\nrelu\nx: conv 4 3x3\nrelu")
    after = net_of("conv 4 3x3\nbn\nrelu\nx: conv 4 3x3\nrelu")
    assert {"conv1", "x", "relu2"} <= set(before.graph) & set(after.graph)


@pytest.mark.parametrize("body, line, gist", [
    ("conv 8 3x3\nresidual { conv 16 3x3 pad=1 }", 4, "the body gives 16×30×30 but the skip carries 8×30×30"),
    ("residual { conv 8 3x3 } shortcut { conv 8 1x1 }", 3, "the shortcut gives"),
    ("add { branch { conv 4 1 } branch {} }", 3, "different shapes"),
    ("relu\nconv 8 3x3 pad=valid stride=0", 4, "`stride` must be"),
    ("conv 8 2x2 pad=same", 3, "uneven padding"),
    ("maxpool 2 pad=2", 3, "more than half"),
    ("aux { }\nrelu", 3, "empty body"),
    ("aux size=2 { relu }\nrelu", 3, "no option `size`"),
    ("block b(c) { conv c 1 }\nb()", 4, "needs a value for 'c'"),
    ("block b(c) { conv c 1 }\nb(1, 2)", 4, "takes 1 argument"),
    ("block b(c) { conv c 1 }\nb(1, c=2)", 4, "given twice"),
    ("conv 8 3x3 stride=2 stride=1", 3, "given twice"),
    ("block b(c) { conv c//0 1 }\nb(1)", 3, "division by zero"),
    ("softmax", 3, "1-D input"),
    ("flatten\nconv 4 3", 4, "C×H×W input"),
    ("b()\nblock b() { relu }", 3, "before its definition"),
    ("repeat 0 { relu }", 3, "≥ 1"),
    ("block conv(c) { relu }\nconv(3)", 3, "name of a layer"),
    ("network X", 3, "only once"),
    ("conv 8 3x3 bias=maybe", 3, "unknown name 'maybe'"),
])
def test_graph_errors(body, line, gist):
    e = body_error(body)
    assert e.pos.line == line and gist in e.message
