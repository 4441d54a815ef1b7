"""The playground's speed: keystroke to updated diagram in a real browser, and checks per second.

    python benchmarks/bench_serve.py              # the table, and benchmarks/out/serve.json
    python benchmarks/bench_serve.py --seconds 5  # the load test's length per network

Keystroke to diagram: the page (Debian's Chromium, headless, driven by Playwright) has a network open; a
digit is typed into a channel count (then deleted, alternately); the time runs from the key press to the
moment the page has put the new diagram and table in place (the page's own check counter moves), over 15
keystrokes, median and worst; and the page's own measure, from the keydown event to the diagram and table
in place (without Playwright's round trips), split into its parts. The page waits 60 ms after the last
keystroke before it asks (so that a word typed fast is checked once): that pause is inside both figures, as
a student feels it.
Checks per second: 8 client threads posting the network to /api/check as fast as answers come, for
--seconds, against the server's two workers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.serve.browser import browser, checked, checks, open_page, server  # noqa: E402

NETWORKS = {"resnet50": 37, "googlenet": 38}  # the line whose first number is typed into (a stage, a module)
OUT = Path(__file__).parent / "out"


def keystrokes(page, name: str, line: int, n: int = 15, parts: list | None = None) -> list[float]:
    parts = [] if parts is None else parts
    before = checks(page)
    page.select_option("#examples", name)
    checked(page, before, "ok")
    before = checks(page)  # the file's `expect` of its totals would fail after the first digit: without it
    page.evaluate("(() => { const cm = window.cnndslEditor; "
                  "cm.setValue(cm.getValue().split('\\n').filter((l) => !l.startsWith('expect')).join('\\n')); })()")
    checked(page, before, "ok")
    times = []
    for k in range(n):
        # after the first digit of the call's first argument: `stage(128` → `stage(1128` and back
        page.evaluate(f"(() => {{ const cm = window.cnndslEditor; cm.focus(); const t = cm.getLine({line - 1}); "
                      f"const at = t.search(/\\(\\d/) + 2 + {k % 2}; cm.setCursor({{line: {line - 1}, ch: at}}); }})()")
        before = checks(page)
        began = time.perf_counter()
        page.keyboard.press("Backspace" if k % 2 else "1")
        state = checked(page, before)
        assert state == "ok", page.inner_text("#errors")
        times.append(time.perf_counter() - began)
        parts.append(json.loads(page.evaluate("document.body.dataset.timing")))
    return times


def load(url: str, text: str, seconds: float, clients: int = 8) -> dict:
    import httpx
    done, failed = [], []
    stop = time.perf_counter() + seconds

    def client():
        with httpx.Client(base_url=url, timeout=30) as c:
            while time.perf_counter() < stop:
                began = time.perf_counter()
                r = c.post("/api/check", json={"text": text})
                (done if r.status_code == 200 and r.json().get("ok") else failed).append(time.perf_counter() - began)
    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spent = time.perf_counter() - began
    return {"checks_per_second": len(done) / spent, "failed": len(failed),
            "median_ms": 1000 * statistics.median(done) if done else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    from cnndsl.network import resolve
    results = {}
    with server() as url, browser() as b:
        page = open_page(b, url)
        for name, line in NETWORKS.items():
            keystrokes(page, name, line, 3)  # warm-up
            parts: list[dict] = []
            t = keystrokes(page, name, line, parts=parts)
            results[name] = {"keystroke_to_diagram_ms": {"median": 1000 * statistics.median(t), "max": 1000 * max(t)},
                             "in_the_page_ms": {k: statistics.median(p[k] for p in parts)
                                                for k in ("typed_to_request", "request", "render", "total")},
                             "server_ms": 1000 * statistics.median(p["server"] for p in parts)}
        for name in ("lenet5", *NETWORKS):
            results.setdefault(name, {})["load"] = load(url, resolve(name).read_text(), args.seconds)
    import platform
    import os
    machine = {"cpu": _cpu(), "cores": os.cpu_count(), "python": platform.python_version()}
    print(f"machine: {machine['cpu']}, {machine['cores']} cores")
    print(f"{'network':<11} {'keystroke → diagram':>22} {'in the page':>12} {'checks/s (8 clients)':>22} {'median answer':>14}")
    for name, r in results.items():
        k = r.get("keystroke_to_diagram_ms")
        ks = f"{k['median']:.0f} ms (max {k['max']:.0f})" if k else "—"
        inpage = f"{r['in_the_page_ms']['total']:.0f} ms" if k else "—"
        print(f"{name:<11} {ks:>22} {inpage:>12} {r['load']['checks_per_second']:>22.1f} {r['load']['median_ms']:>11.0f} ms")
        if k:
            p = r["in_the_page_ms"]
            print(f"{'':<11} in the page: {p['typed_to_request']:.0f} ms waiting for more keys, {p['request']:.0f} ms "
                  f"for the answer (the server {r['server_ms']:.0f} ms), {p['render']:.0f} ms to show it")
    OUT.mkdir(exist_ok=True)
    (OUT / "serve.json").write_text(json.dumps({"machine": machine, "results": results}, indent=1))


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
