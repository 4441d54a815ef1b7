"""The playground in a real browser — Debian's Chromium, headless, driven by Playwright — as a student uses
it: open an example, type a change and watch the totals and the diagram follow, type a mistake and see its
line marked with the message, fix it, click a box and land on its line, reload and find the text kept,
train a small network and see its curve and feature maps."""

import pytest

pytest.importorskip("playwright")
pytest.importorskip("starlette")

from .browser import (CHROMIUM, backspace, browser, checked, checks, go_to_line_end, open_example,  # noqa: E402
                      open_page, server, train)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")]


@pytest.fixture(scope="module")
def url():
    with server() as address:
        yield address


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


def totals(page) -> dict[str, str]:
    return {k: page.inner_text(f"#totals [data-total='{k}'] b") for k in ("params", "macs")}


def test_a_student_edits_a_network_and_the_page_follows(url, chromium):
    page = open_page(chromium, url)
    assert page.evaluate("document.body.dataset.state") == "ok"
    assert "LeNet5" in page.inner_text("#status")  # a fresh browser starts with LeNet-5
    assert totals(page)["params"] == "61,706"

    # pick an example
    open_example(page, "digits_relu")
    assert "DigitsReLU" in page.inner_text("#status")
    conv_params = page.inner_text("#summary tr[data-node='conv1'] td:nth-child(4)")
    assert conv_params == "160"  # 16·(1·3·3 + 1)
    boxes = page.locator("#diagram svg g.node").count()

    # type a change: 16 filters → 24 on line 6, and a layer more
    go_to_line_end(page, 6)
    page.keyboard.press("Home")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    before = checks(page)
    page.keyboard.press("Delete")
    page.keyboard.type("2")  # conv 16 → conv 26
    checked(page, before, "ok")
    page.wait_for_function("document.querySelector(\"#summary tr[data-node='conv1'] td:nth-child(4)\").textContent === '260'")
    go_to_line_end(page, 9)
    before = checks(page)
    page.keyboard.type("\nconv 32 1x1; relu")
    checked(page, before, "ok")
    page.wait_for_function(f"document.querySelectorAll('#diagram svg g.node').length > {boxes}")
    assert page.locator("#summary tr[data-node='conv3']").count() == 1

    # a mistake: marked on its line, with the message and the hint, and the diagram dimmed
    go_to_line_end(page, 7)
    before = checks(page)
    page.keyboard.type(" stride=zero")
    checked(page, before, "error")
    marked = page.locator(".CodeMirror-code > div").nth(6)
    assert "cm-error-line" in (marked.locator("pre").first.get_attribute("class") or "") or \
        marked.locator(".cm-error-line").count() == 1
    widget = page.locator(".err-widget")
    page.wait_for_function("() => (document.querySelector('.err-widget') || {}).innerText?.includes(\"'zero'\")",
                           timeout=10_000)  # the last keystroke's check, not an earlier one's ('z', 'ze', …)
    assert widget.count() == 1 and "unknown name 'zero'" in widget.inner_text() and "hint:" in widget.inner_text()
    assert "line 7:" in page.inner_text("#errors")
    assert "stale" in page.get_attribute("#diagram", "class")

    # two mistakes at once: both marked
    go_to_line_end(page, 11)
    before = checks(page)
    page.keyboard.type("x")
    checked(page, before, "error")
    page.wait_for_function("document.querySelectorAll('.err-widget').length === 2")
    assert "line 11:" in page.inner_text("#errors")

    # fixed: the marks go, the diagram comes back
    page.keyboard.press("Backspace")
    go_to_line_end(page, 7)
    before = checks(page)
    backspace(page, len(" stride=zero"))
    checked(page, before, "ok")
    page.wait_for_function("document.querySelectorAll('.err-widget').length === 0")
    assert "stale" not in (page.get_attribute("#diagram", "class") or "")

    # click a box: the editor selects its line, the arithmetic shows
    box = page.locator("#diagram svg g.node", has=page.locator("title", has_text="dense1")).first
    box.click()
    page.wait_for_function("!document.getElementById('explain').hidden")
    line = page.evaluate("window.cnndslEditor.getCursor().line") + 1
    assert page.evaluate(f"window.cnndslEditor.getLine({line - 1})").startswith("dense 128")
    assert "dense1" in page.inner_text("#explain-title") and "params" in page.inner_text("#explain-body")

    # reload: the text is still there
    text = page.evaluate("window.cnndslEditor.getValue()")
    page.reload()
    checked(page, 0, "ok")
    assert page.evaluate("window.cnndslEditor.getValue()") == text
    assert page.problems == []


def test_a_small_network_trains_from_the_page(url, chromium):
    page = open_page(chromium, url)
    open_example(page, "digits_relu")
    train(page, 1)
    page.wait_for_function("document.body.dataset.training === 'ended'", timeout=60_000)
    assert "test accuracy" in page.inner_text("#train-status")
    assert page.locator("#maps").is_visible()
    assert page.evaluate("document.getElementById('maps').naturalWidth") > 200
    # editing goes on while it trains: the editor was never blocked (the check count kept moving)
    assert page.problems == []


def test_a_stopped_run_says_so(url, chromium):
    page = open_page(chromium, url)
    open_example(page, "digits_relu")
    train(page, 20)
    page.wait_for_function("document.getElementById('train-status').textContent.startsWith('epoch')", timeout=60_000)
    go_to_line_end(page, 12)
    before = checks(page)
    page.keyboard.type("; relu")  # editing while it trains
    checked(page, before, "ok")
    page.click("#train-stop")
    page.wait_for_function("document.body.dataset.training === 'ended'", timeout=20_000)
    assert page.inner_text("#train-status") == "stopped"
