"""A playground server in a process of its own and Debian's Chromium driven by Playwright (shared by the
browser tests, the screenshots and the latency benchmark)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager

CHROMIUM = os.environ.get("CNNDSL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def server(*args: str):
    """`cnndsl serve --port 0 …`, until the block ends; yields its address."""
    proc = subprocess.Popen([sys.executable, "-m", "cnndsl", "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        found = re.search(r"http://\S+/", line)
        if not found:
            raise RuntimeError(f"the server did not start: {line}{proc.stdout.read() if proc.poll() is not None else ''}")
        yield found.group(0)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


def open_page(b, url: str, width: int = 1400, height: int = 950):
    page = b.new_page(viewport={"width": width, "height": height})
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.goto(url)
    checked(page, 0)
    return page


def checks(page) -> int:
    return int(page.evaluate("document.body.dataset.checks || '0'"))


def checked(page, after: int, state: str | None = None, timeout: float = 15.0) -> str:
    """Wait until the page has applied a check newer than `after`; its state ("ok" | "error")."""
    page.wait_for_function(f"Number(document.body.dataset.checks || 0) > {after}", timeout=timeout * 1000)
    if state:
        page.wait_for_function(f"document.body.dataset.state === '{state}'", timeout=timeout * 1000)
    return page.evaluate("document.body.dataset.state")


def open_example(page, name: str) -> None:
    """Pick an example from the menu and wait until it is checked and drawn."""
    before = checks(page)
    page.select_option("#examples", name)
    checked(page, before, "ok")


def train(page, epochs: int) -> None:
    page.fill("#epochs", str(epochs))
    page.click("#train-start")


def backspace(page, n: int) -> None:
    for _ in range(n):
        page.keyboard.press("Backspace")


def go_to_line_end(page, line: int) -> None:
    """Put the editor's cursor at the end of a line (1-based), as a click there would."""
    page.evaluate(f"(() => {{ const cm = window.cnndslEditor; cm.focus(); "
                  f"cm.setCursor({{line: {line - 1}, ch: cm.getLine({line - 1}).length}}); }})()")


def wait(seconds: float) -> None:
    time.sleep(seconds)
