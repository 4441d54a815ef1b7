"""Netron (its Python package, serving its viewer) opens the ONNX files cnndsl writes: the graph is drawn in
Debian's Chromium with every node, named as in cnndsl's graph, and the tensors' shapes on the edges."""

import pytest

netron = pytest.importorskip("netron")
pytest.importorskip("playwright")
onnx = pytest.importorskip("onnx")

import cnndsl  # noqa: E402
from cnndsl.export.onnx import save_onnx  # noqa: E402

from ..serve.browser import CHROMIUM, browser  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")]


@pytest.mark.parametrize("name", ["googlenet", "resnet18"])
def test_netron_draws_the_exported_model(name, tmp_path):
    path = tmp_path / f"{name}.onnx"
    save_onnx(cnndsl.load(name).init(0), path)
    nodes = len(onnx.load(str(path)).graph.node)
    host, port = netron.start(str(path), address=("127.0.0.1", 0), browse=False)
    try:
        with browser() as b:
            page = b.new_page(viewport={"width": 1200, "height": 900})
            page.goto(f"http://{host}:{port}/")
            page.get_by_text("Accept").click(timeout=20_000)  # its notice about cookies, first
            page.wait_for_selector("#canvas g.node", timeout=60_000)
            drawn = page.locator("#canvas g.node")
            texts = [drawn.nth(i).text_content() for i in range(drawn.count())]
    finally:
        netron.stop((host, port))
    # every ONNX node, the input and the output; the first layers under their cnndsl names
    assert len(texts) >= nodes
    assert any(t.startswith("Conv") and "conv1" in t for t in texts)
    assert texts[0].startswith("input") and "N,3,224,224" in texts[0]
