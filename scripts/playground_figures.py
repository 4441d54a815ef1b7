"""Screenshots of the playground for the README and docs/playground.md, taken in Debian's Chromium:
python3 scripts/playground_figures.py. It also writes docs/playground/screenshots.digest, the digest of
the page's files; a test fails when the page has changed since (the screenshots are stale)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnndsl.serve.static_digest import page_digest  # noqa: E402
from tests.serve.browser import (backspace, browser, checked, checks, go_to_line_end, open_example,  # noqa: E402
                                open_page, server, train)

OUT = ROOT / "docs" / "playground"


def main() -> None:
    with server() as url, browser() as b:
        page = open_page(b, url, 1400, 900)
        open_example(page, "resnet18")
        box = page.locator("#diagram svg g.node", has=page.locator("title", has_text="layer1_0.conv1")).first
        box.click()
        page.wait_for_function("!document.getElementById('explain').hidden")
        time.sleep(0.4)
        page.screenshot(path=str(OUT / "playground.png"))

        open_example(page, "digits_relu")
        go_to_line_end(page, 8)
        before = checks(page)
        page.keyboard.type(" stride=zero")
        go_to_line_end(page, 11)
        page.keyboard.type("x")
        checked(page, before, "error")
        page.wait_for_function("document.querySelectorAll('.err-widget').length === 2")
        time.sleep(0.3)
        page.screenshot(path=str(OUT / "playground-errors.png"))

        page.keyboard.press("Backspace")
        go_to_line_end(page, 8)
        before = checks(page)
        backspace(page, len(" stride=zero"))
        checked(page, before, "ok")
        train(page, 3)
        page.wait_for_function("document.body.dataset.training === 'ended'", timeout=120_000)
        page.wait_for_function("document.getElementById('maps').naturalWidth > 0")
        page.locator("#train").scroll_into_view_if_needed()
        time.sleep(0.3)
        page.locator("#bottom").screenshot(path=str(OUT / "playground-training.png"))
    (OUT / "screenshots.digest").write_text(page_digest() + "\n")
    print("wrote", ", ".join(p.name for p in sorted(OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
