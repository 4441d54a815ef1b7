"""The playground's screenshots in the docs show the page as it is: taken after its last change."""

from pathlib import Path

from cnndsl.serve.static_digest import page_digest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "playground"


def test_the_screenshots_are_not_stale():
    recorded = (DOCS / "screenshots.digest").read_text().strip()
    assert recorded == page_digest(), "the page changed: run `python3 scripts/playground_figures.py`"
    for name in ("playground.png", "playground-errors.png", "playground-training.png"):
        assert (DOCS / name).stat().st_size > 20_000, name
