"""The language's normative examples (the surface docs/language.md documents), verbatim, each completed into a file."""

import cnndsl

HEADER = "network Example\ninput 192x28x28\n"

INCEPTION = """block inception(c1, c3r, c3, c5r, c5, pp) {
  concat {
    branch { conv c1 1x1; relu }
    branch { conv c3r 1x1; relu; conv c3 3x3 pad=1; relu }
    branch { conv c5r 1x1; relu; conv c5 5x5 pad=2; relu }
    branch { maxpool 3x3 stride=1 pad=1; conv pp 1x1; relu }
  }
}
inception3a: inception(64, 96, 128, 16, 32, 32)
inception(128, 128, 192, 32, 96, 64)          # unlabelled: gets a generated, stable name
"""


def test_blocks_example():
    net = cnndsl.parse(HEADER + INCEPTION)
    g = net.graph
    assert g.nodes["inception3a.concat1"]["node"].shape == (256, 28, 28)
    assert g.nodes["inception1.concat1"]["node"].shape == (480, 28, 28)
    assert g.graph["blocks"]["inception1"]["args"]["pp"] == 64


def test_repetition_example():
    net = cnndsl.parse(HEADER + "block stage(ch, n) { repeat n { conv ch 3x3 pad=1; relu } }\nstage(64, 3)\n")
    assert [n for n in net.layers if net.graph.nodes[n]["node"].op == "conv"] == [
        "stage1.conv1", "stage1.conv2", "stage1.conv3"]


def test_block_without_parameters_example():
    net = cnndsl.parse(HEADER + "block stem() { conv 64 1x1; relu }\nstem()\n")
    assert net.output_shape == (64, 28, 28)


def test_branches_and_skip_examples():
    densenet = cnndsl.parse(HEADER + "concat { branch {} branch { bn; relu; conv 32 3x3 pad=1 } }\n")
    assert densenet.output_shape == (224, 28, 28)
    labelled = cnndsl.parse(HEADER + "a: conv 8 3x3 pad=1; relu\nconv 8 3x3 pad=1\ns: add @a\nfrom @a\n"
                            "conv 8 1x1\nconcat @s\n")
    assert labelled.graph.nodes["s"]["node"].inputs == ("conv1", "a")  # a labelled layer takes its label as name
    assert labelled.graph.nodes["concat1"]["node"].inputs == ("conv2", "s")
    assert labelled.output_shape == (16, 28, 28)


def test_aux_example_counts_apart():
    net = cnndsl.parse(HEADER + "conv 16 1x1\naux weight=0.3 { gap; flatten; dense 10 }\ngap\nflatten\ndense 10\n"
                       "softmax\n")
    assert net.param_count - net.inference_param_count == 16 * 10 + 10
    assert net.aux_heads[0]["weight"] == 0.3


def test_residual_mismatch_error_example():
    error = None
    try:
        cnndsl.parse("network R\ninput 64x56x56\nresidual {\n  conv 128 3x3 stride=2 pad=1\n}\n", "resnet.cnn")
    except cnndsl.CnnError as e:
        error = e
    assert error is not None and error.pos.line == 3
    assert "the body gives 128×28×28 but the skip carries 64×56×56" in str(error)
    assert "shortcut { conv 128 1x1 stride=2 }" in str(error)
