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
    nodes = {g.find("s:title", NS).text: texts(g) for g in groups(root, "node")}
    assert "163,696 params" in nodes["inception3a.__title__"]  # the title is a box of the cluster's own
    assert "concat 64+128+32+32 = 256" in nodes["inception3a.concat1"]
    assert "b2.conv2" in nodes["inception3a.b2.conv2"]  # names within the block tell the branches apart
    # aux heads: dashed clusters marked train only, nested block clusters inside
    assert "train only, weight 0.3" in nodes["aux1.__title__"] and "cluster_aux1.aux_head1" in clusters
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
    identity = edges["layer1_0.__title__->layer1_0.add1"]
    assert "identity" in texts(identity) and identity.find("s:path", NS).get("stroke-dasharray")
    projection = edges["layer2_0.__title__->layer2_0.add1"]  # the shortcut drawn on the skip, dashed
    assert projection.find("s:path", NS).get("stroke-dasharray")
    assert "conv 128 1×1 /2 · BN projection" in texts(projection) and "8,448 params" in texts(projection)
    nodes = {g.find("s:title", NS).text: texts(g) for g in groups(root, "node")}
    assert "layer2_0.shortcut.conv1" not in nodes  # no box beside the main path
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


def dot_of(net, depth=None):
    """The DOT source as (nodes {id: attrs}, edges [(src, dst, attrs)], clusters {name: (attrs, members)})."""
    import graphviz  # noqa: F401 — the source is plain text; parsed with a few regular expressions
    source = net.diagram(depth).source
    return source


def cluster_members(source: str) -> dict[str, set[str]]:
    """cluster name → the node ids declared inside it (nested clusters' included)."""
    members, stack = {}, []
    for line in source.splitlines():
        line = line.strip()
        if line.startswith("subgraph cluster_"):
            stack.append(line.split()[1].removeprefix("cluster_").strip('"'))
            members[stack[-1]] = set()
        elif line == "}" and stack:
            stack.pop()
        elif stack and re.match(r'^"?[\w.]+"? \[', line):
            node = line.split(" [")[0].strip('"')
            for name in stack:
                members[name].add(node)
    return members


def edges_of(source: str) -> list[tuple[str, str, str]]:
    return [(m.group(1), m.group(2), m.group(3)) for m in
            re.finditer(r'^\s*"?([\w.]+)"? -> "?([\w.]+)"? ?(\[.*\])?$', source, re.M)]


@pytest.mark.parametrize("name", ["googlenet", "resnet18", "resnet50", "alexnet2012"])
def test_no_edge_crosses_a_cluster_title(name):
    """Every edge that enters a cluster from outside ends at the cluster's title box; titles are boxes,
    not cluster labels an edge could run through."""
    source = dot_of(cnndsl.load(name))
    members = cluster_members(source)
    assert 'label=""' in source or not members
    for cluster, inside in members.items():
        title = f"{cluster}.__title__"
        assert title in inside
        entering = [(a, b) for a, b, _ in edges_of(source) if b in inside and a not in inside]
        assert entering and all(b == title for _, b in entering), (cluster, entering)


def test_a_projection_is_a_dashed_skip_and_the_main_path_a_straight_column():
    net = cnndsl.load("resnet50")
    source = dot_of(net)
    view = dotmod.build_view(net.graph)
    assert not [u for u in view.units if ".shortcut" in u]
    projections = [e for e in view.edges if e.kind == "projection"]
    assert len(projections) == 4 and all(e.via and e.via[0].endswith("shortcut.conv1") for e in projections)
    # the main path: every box between the input and the output that is not inside a branch, in one group
    grouped = set(re.findall(r'^\s*"?([\w.]+)"? \[.*group=spine', source, re.M))
    for node in ("input", "conv1", "maxpool1", "layer1.projected1.conv1", "layer1.projected1.conv2",
                 "layer1.projected1.add1", "layer4.bottleneck2.add1", net.layers[-1]):
        assert net.graph.nodes[node] and any(g == node or g.startswith(node) for g in grouped), node


def test_the_legend_shows_every_swatch_with_a_border():
    source = dot_of(cnndsl.load("resnet18"))
    legend = source[source.index("legend"):]
    swatches = re.findall(r"<td bgcolor='(#\w+)' border='1' color='#555555'", legend)
    assert "#ffffff" in swatches and len(swatches) == len(set(swatches)) >= 5  # merge: white, with a border
    assert "projection shortcut" in legend and "skip connection" in legend


def test_grouped_convolutions_are_drawn_as_two_towers():
    source = dot_of(cnndsl.load("alexnet2012"))
    conv2 = next(line for line in source.splitlines() if line.strip().startswith("conv2 ["))
    assert conv2.count("<b>conv 128 5×5 · ReLU</b>") == 2 and "groups=2: two towers" in conv2
    wide = dot_of(net_of("conv 8 3x3 groups=4; relu\nflatten", shape="8x8x8"))
    assert "groups=4: 4 slices of 2 input channels" in wide


def test_a_tall_figure_folds_and_says_so(tmp_path):
    import subprocess
    import sys
    from cnndsl.render.view import MAX_RANKS, auto_depth, build_view, ranks
    assert auto_depth(cnndsl.load("resnet50")) == 1 and ranks(build_view(cnndsl.load("resnet50").graph)) > MAX_RANKS
    assert auto_depth(cnndsl.load("googlenet")) is None and auto_depth(cnndsl.load("resnet18")) is None
    run = subprocess.run([sys.executable, "-m", "cnndsl", "render", "resnet50", "-o", tmp_path / "r.dot"],
                         capture_output=True, text=True)
    assert run.returncode == 0 and "drawn with --depth 1 (--depth all draws every layer)" in run.stderr
    full = subprocess.run([sys.executable, "-m", "cnndsl", "render", "resnet50", "-o", tmp_path / "f.dot", "--depth",
                           "all"], capture_output=True, text=True)
    assert full.returncode == 0 and "note" not in full.stderr
    assert (tmp_path / "f.dot").stat().st_size > 3 * (tmp_path / "r.dot").stat().st_size


def test_a_label_read_before_its_activation_is_noted_and_drawn_from_the_layer():
    net = net_of("a: conv 4 3x3 pad=1; relu\nconv 4 3x3 pad=1; relu\nadd @a\nflatten")
    (note,) = net.notes
    assert note.pos.line == 5 and "@a is the output of `conv 4 3x3 pad=1`" in note.message
    assert "a: relu" in note.hint and str(note).startswith("t.cnn:5:5: note:") or "note:" in str(note)
    edges = {(e.src, e.dst): e.kind for e in dotmod.build_view(net.graph).edges}
    assert edges[("a", "add1")] == "skip"  # from the conv's own box: the relu is not fused into it
    assert not net_of("conv 4 3x3 pad=1; a: relu\nconv 4 3x3 pad=1; relu\nadd @a\nflatten").notes


def test_generated_names_keep_a_layers_own_digits_apart():
    net = net_of("relu6\nrelu6\nrelu\nflatten")
    assert net.layers == ["relu6_1", "relu6_2", "relu1", "flatten1"]


def test_many_block_instances_draw_in_linear_time():
    """Routing edges through each cluster's title touches the edges entering that cluster, not every edge
    once per cluster. Timed as the best of three runs (after a warm-up) so one slow moment cannot fail it."""
    import time

    def seconds(blocks: int) -> float:
        net = cnndsl.parse(f"network Many\ninput 4x8x8\nblock b() {{ conv 4 1x1; relu; conv 4 1x1 }}\n"
                           f"repeat {blocks} {{ b() }}\n")
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            net.diagram(None)
            best = min(best, time.process_time() - start)
        return best
    seconds(10)
    small, large = seconds(100), seconds(900)
    assert large < 10 and large < 13 * max(small, 0.01)  # 9× the blocks: 9–10× the time measured; 15–17× before
