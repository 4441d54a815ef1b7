"""Diagrams: the SVG parsed as XML (clusters, nodes, edges, labels), every format, determinism, gallery."""

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import cnndsl
from cnndsl.errors import CnnError
from cnndsl.render import dot as dotmod
from cnndsl.render.gallery import dot_digest
from cnndsl.resources import shipped_architectures

from ..conftest import net_of

NS = {"s": "http://www.w3.org/2000/svg"}
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def svg_tree(net, depth=None):
    return ET.fromstring(dotmod.svg(net, depth))


def groups(root, cls):
    return [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == cls]


def texts(g):
    return " ".join(t.text or "" for t in g.iter("{http://www.w3.org/2000/svg}text"))


def titles(root, cls):
    return [g.find("s:title", NS).text for g in groups(root, cls)]


@needs_dot
def test_lenet_nodes_edges_and_fused_activations():
    root = svg_tree(cnndsl.load("lenet5"))
    nodes = {g.find("s:title", NS).text: texts(g) for g in groups(root, "node")}
    # input, 9 boxes (4 activations fused away), output, legend
    assert set(nodes) == {"input", "conv1", "avgpool1", "conv2", "avgpool2", "flatten1", "dense1", "dense2",
                          "dense3", "softmax1", "output", "legend"}
    assert "conv 6 5×5 · tanh" in nodes["conv1"] and "156 params" in nodes["conv1"]
    assert "1×32×32" in nodes["input"] and "convolution" in nodes["legend"]
    edges = {g.find("s:title", NS).text: texts(g) for g in groups(root, "edge")}
    assert len(edges) == 10 and "6×28×28" in edges["conv1->avgpool1"] and "400" in edges["flatten1->dense1"]
    assert not groups(root, "cluster")


@needs_dot
def test_inception_clusters_branches_and_concat_label():
    root = svg_tree(cnndsl.load("googlenet"))
    clusters = {g.find("s:title", NS).text: texts(g) for g in groups(root, "cluster")}
    assert len([c for c in clusters if c.startswith("cluster_inception")]) == 9
    assert "163,696 params" in clusters["cluster_inception3a"]
    nodes = {g.find("s:title", NS).text: texts(g) for g in groups(root, "node")}
    assert "concat 64+128+32+32 = 256" in nodes["inception3a.concat1"]
    # aux heads: dashed clusters marked train only, nested block clusters inside
    assert "train only, weight 0.3" in clusters["cluster_aux1"] and "cluster_aux1.aux_head1" in clusters
    assert "aux loss" in nodes["aux2.loss"]


@needs_dot
def test_branches_side_by_side_in_source_order_on_one_rank():
    root = svg_tree(cnndsl.load("googlenet"))
    pos = {}
    for g in groups(root, "node"):
        x, y = g.find("s:text", NS).get("x"), g.find("s:text", NS).get("y")
        pos[g.find("s:title", NS).text] = (float(x), float(y))
    heads = ["inception4a.b1.conv1", "inception4a.b2.conv1", "inception4a.b3.conv1", "inception4a.b4.maxpool1"]
    xs = [pos[h][0] for h in heads]
    ys = {round(pos[h][1]) for h in heads}
    assert xs == sorted(xs) and len(ys) == 1


@needs_dot
def test_residual_skips_dashed_identity_and_projection_apart():
    root = svg_tree(cnndsl.load("resnet18"))
    edges = {g.find("s:title", NS).text: g for g in groups(root, "edge")}
    identity = edges["maxpool1->layer1_0.add1"]
    assert "identity" in texts(identity) and identity.find("s:path", NS).get("stroke-dasharray")
    projection = edges["layer2_0.shortcut.conv1->layer2_0.add1"]
    assert not projection.find("s:path", NS).get("stroke-dasharray")
    nodes = {g.find("s:title", NS).text: texts(g) for g in groups(root, "node")}
    assert "⊕ residual · ReLU" in nodes["layer1_0.add1"] and "conv 64 7×7 /2 · BN · ReLU" in nodes["conv1"]


@needs_dot
def test_depth_zero_folds_identical_instances():
    root = svg_tree(cnndsl.load("resnet18"), depth=0)
    nodes = {g.find("s:title", NS).text: texts(g) for g in groups(root, "node")}
    assert "basic(64, 1) ×2" in nodes["layer1_0"] and "layer1_1" not in nodes
    assert "down(128)" in nodes["layer2_0"] and not groups(root, "cluster")
    assert len([n for n in nodes if n.startswith("layer")]) == 7


@needs_dot
def test_depth_one_nests_and_folds_inside():
    root = svg_tree(cnndsl.load("resnet50"), depth=1)
    nodes = {g.find("s:title", NS).text: texts(g) for g in groups(root, "node")}
    assert "bottleneck(256, 1) ×5" in nodes["layer3.bottleneck1"]
    assert len(groups(root, "cluster")) == 4


def test_ref_merges_draw_skip_edges():
    net = net_of("a: conv 4 3x3 pad=1\nconv 4 3x3 pad=1\nadd @a\nflatten")
    edges = {(e.src, e.dst): e.kind for e in dotmod.build_view(net.graph).edges}
    assert edges[("a", "add1")] == "skip" and edges[("conv1", "add1")] == "main"


def test_dot_output_is_deterministic(tmp_path):
    a, b = tmp_path / "a.dot", tmp_path / "b.dot"
    cnndsl.load("googlenet").render(a)
    cnndsl.load("googlenet").render(b)
    assert a.read_bytes() == b.read_bytes() and a.read_bytes().startswith(b"digraph GoogLeNet")


@needs_dot
@pytest.mark.parametrize("name", sorted(shipped_architectures()))
def test_png_and_pdf_for_every_architecture(name, tmp_path):
    net = cnndsl.load(name)
    assert net.render(tmp_path / "x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert net.render(tmp_path / "x.pdf", depth=0).read_bytes()[:5] == b"%PDF-"


def test_missing_dot_says_how_to_install_and_dot_still_works(monkeypatch, tmp_path):
    monkeypatch.setattr(dotmod.shutil, "which", lambda name: None)
    net = cnndsl.load("lenet5")
    with pytest.raises(CnnError, match="apt-get install graphviz"):
        net.render(tmp_path / "x.svg")
    assert net.render(tmp_path / "x.dot").exists()
    assert net._repr_svg_() is None


def test_unknown_format_is_a_clear_error(tmp_path):
    with pytest.raises(CnnError, match=r"\.svg, \.png, \.pdf or \.dot"):
        cnndsl.load("lenet5").render(tmp_path / "x.jpg")


@needs_dot
def test_jupyter_shows_the_svg():
    svg = cnndsl.load("lenet5")._repr_svg_()
    assert "<svg" in svg and "conv 6 5×5" in svg


@pytest.mark.parametrize("name", sorted(shipped_architectures()))
def test_gallery_is_current(name):
    """Regenerate with `cnndsl gallery` after changing the renderer or an architecture."""
    path = Path(__file__).resolve().parents[2] / "docs" / "gallery" / f"{name}.svg"
    assert path.exists(), "run `cnndsl gallery`"
    stamp = re.search(r"cnndsl-dot-sha256: (\w+)", path.read_text())
    assert stamp and stamp.group(1) == dot_digest(name), "stale: run `cnndsl gallery`"
