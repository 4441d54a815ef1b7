"""docs/notebook.ipynb runs top to bottom in a Jupyter kernel, and a Network displays as its diagram and
an HTML summary table."""

from pathlib import Path

import pytest

import cnndsl

ROOT = Path(__file__).resolve().parent.parent


def test_a_network_and_its_summary_display_as_html():
    net = cnndsl.load("resnet18")
    summary = net.summary(depth=0)
    assert isinstance(summary, str) and summary.startswith("ResNet18")  # prints as the text table
    html = summary._repr_html_()
    from cnndsl.summary import table_rows
    assert "<table" in html and "layer1_0" in html and html.count("<tr") == 1 + len(table_rows(net, 0))
    page = net._repr_html_()
    assert page.startswith("<div") and "<svg" in page and "<table" in page


@pytest.mark.slow
def test_the_example_notebook_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient
    notebook = nbformat.read(ROOT / "docs" / "notebook.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if o.output_type == "execute_result" and "text/html" in o["data"]]
    assert len(html) == 2 and all("<table" in h for h in html) and "<svg" in html[0]
