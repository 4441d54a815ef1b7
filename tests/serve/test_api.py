"""The playground's server, through its HTTP API (Starlette's test client, the real worker pool): checks
and their errors, limits on what a request may ask, a runaway check stopped while the server goes on,
concurrent requests, explanations, examples, ONNX, and a training run followed to its end."""

import json
import threading
import warnings

import pytest

pytest.importorskip("starlette")
pytest.importorskip("pebble")
with warnings.catch_warnings():  # Starlette asks for httpx2 now; httpx still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from cnndsl.resources import lesson_networks, shipped_architectures  # noqa: E402
from cnndsl.serve import app as app_module  # noqa: E402
from cnndsl.serve.app import make_app  # noqa: E402

TINY = "network Tiny\ninput 1x8x8\nconv 4 3x3; relu\nmaxpool 2\nflatten\ndense 10\nsoftmax\n"


@pytest.fixture(scope="module")
def client():
    with TestClient(make_app(TINY, "tiny")) as c:
        yield c


def check(client, text, **kw):
    return client.post("/api/check", json={"text": text, **kw})


def test_a_network_comes_back_drawn_and_counted(client):
    r = check(client, TINY)
    assert r.status_code == 200
    d = r.json()
    assert d["ok"] and d["name"] == "Tiny"
    assert d["svg"].lstrip().startswith("<?xml") and "<svg" in d["svg"]
    # the totals are cnndsl's: 4·(9+1) + 10·(4·3·3+1) parameters
    assert d["summary"]["totals"]["params"] == 4 * 10 + 10 * (4 * 9 + 1)
    rows = {r["name"]: r for r in d["summary"]["layers"]}
    assert rows["conv1"]["line"] == 3 and rows["conv1"]["describe"] == "conv 4 3×3"
    assert d["units"]["conv1"]["line"] == 3  # a box of the diagram → its line
    assert d["trainable"] == {"ok": True, "why": None}


def test_every_error_comes_back_with_its_line_and_hint(client):
    text = "network T\ninput 3x8x8\nconv 4 3x3\nrelu 5\nfoo\n"
    d = check(client, text).json()
    assert not d["ok"]
    assert [(e["line"], e["column"]) for e in d["errors"]] == [(4, 6), (5, 1)]
    assert d["errors"][0]["hint"] == "usage: relu" and "unknown layer 'foo'" in d["errors"][1]["message"]


def test_an_expect_after_a_mistake_is_not_reported_again(client):
    text = "network T\ninput 3x8x8\nconvv 4 3x3\nflatten\nexpect params=0\n"
    d = check(client, text).json()
    assert [e["line"] for e in d["errors"]] == [3]


def test_depth_and_direction_change_the_drawing(client):
    text = shipped_architectures()["resnet18"].read_text()
    folded = check(client, text, depth=0).json()
    expanded = check(client, text, depth=None, rankdir="LR").json()
    assert folded["depth"] == 0 and "layer1_0" in folded["units"] and "layer1_0.conv1" not in folded["units"]
    assert "layer1_0.conv1" in expanded["units"] and 'rankdir' not in expanded["svg"]
    assert len(expanded["svg"]) > len(folded["svg"])


@pytest.mark.parametrize("body, status, words", [
    (b"not json", 400, "not JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (json.dumps({"text": 5}).encode(), 400, "`text`"),
    (json.dumps({"text": "x", "depth": "deep"}).encode(), 400, "`depth`"),
    (json.dumps({"text": "x", "rankdir": "BT"}).encode(), 400, "`rankdir`"),
    (json.dumps({"text": "#" * 300_000}).encode(), 413, "larger than"),
])
def test_malformed_and_oversized_requests_get_a_clear_error(client, body, status, words):
    r = client.post("/api/check", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status
    assert words in r.json()["errors"][0]["message"]


def test_a_runaway_check_is_stopped_and_the_server_goes_on(client, monkeypatch):
    monkeypatch.setattr(app_module, "CHECK_TIMEOUT", 0.3)
    runaway = "network T\ninput 3x8x8\nrepeat 90000 { relu }\n"
    r = check(client, runaway)
    assert r.status_code == 422 and "stopped after 0.3 s" in r.json()["errors"][0]["message"]
    monkeypatch.setattr(app_module, "CHECK_TIMEOUT", 8.0)
    assert check(client, TINY).json()["ok"]


def test_concurrent_checks_are_all_answered(client):
    results = []

    def one(k):
        results.append(check(client, TINY.replace("conv 4", f"conv {k + 1}")).json())
    threads = [threading.Thread(target=one, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r["ok"] for r in results)
    assert sorted(r["summary"]["layers"][0]["output_shape"][0] for r in results) == list(range(1, 9))


def test_explain_gives_the_arithmetic_of_a_box(client):
    d = client.post("/api/explain", json={"text": TINY, "node": "conv1"}).json()
    assert d["ok"] and d["title"].startswith("conv1 — conv 4 3×3")
    params = next(s for s in d["steps"] if s["what"] == "params")
    assert params["value"] == 40
    bad = client.post("/api/explain", json={"text": TINY, "node": "nope"}).json()
    assert not bad["ok"] and "no layer or block named 'nope'" in bad["errors"][0]["message"]


def test_the_examples_are_every_shipped_architecture_and_lesson_network(client):
    listed = {e["name"]: e["group"] for e in client.get("/api/examples").json()}
    assert {k for k, g in listed.items() if g == "architectures"} == set(shipped_architectures())
    assert {k for k, g in listed.items() if g == "lessons"} == set(lesson_networks())
    assert client.get("/api/example/googlenet").json()["text"].startswith("# GoogLeNet")
    assert client.get("/api/example/nope").status_code == 404


def test_the_start_is_the_file_it_was_served_with(client):
    d = client.get("/api/start").json()
    assert d["name"] == "tiny" and d["text"] == TINY and "conv" in d["layers"] and "bn" in d["layers"]


def test_the_onnx_download_is_a_checked_model(client):
    onnx = pytest.importorskip("onnx")
    r = client.post("/api/onnx", json={"text": TINY})
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    onnx.checker.check_model(onnx.load_from_string(r.content), full_check=True)
    assert client.post("/api/onnx", json={"text": "network T\n"}).status_code == 422


def test_the_page_sets_a_session_and_its_scripts_ship_with_the_package(client):
    r = client.get("/")
    assert r.status_code == 200 and "cnndsl_session" in r.headers.get("set-cookie", "")
    for path in ("/static/app.js", "/static/vendor/codemirror/codemirror.js", "/static/vendor/svg-pan-zoom.min.js",
                 "/static/vendor/chart.umd.min.js"):
        assert client.get(path).status_code == 200, path
    assert "https://" not in r.text and "http://" not in r.text  # nothing from a CDN


def test_a_training_run_streams_its_progress_and_one_runs_at_a_time(client):
    client.get("/")  # the session cookie
    assert client.post("/api/train", json={"text": TINY, "epochs": 0}).status_code == 400
    r = client.post("/api/train", json={"text": TINY, "epochs": 2})
    assert r.json() == {"ok": True}
    assert client.post("/api/train", json={"text": TINY, "epochs": 2}).status_code == 409
    events = []
    with client.stream("GET", "/api/train/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
                if events[-1]["kind"] in ("done", "error", "stopped"):
                    break
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done", events[-1]
    assert kinds.count("epoch") == 2 and "progress" in kinds
    assert events[-1]["maps"] and 0 <= events[-1]["test_accuracy"] <= 1
    assert client.post("/api/train/stop", json={}).json()["running"] is False


def test_a_network_too_large_to_train_says_why(client):
    big = shipped_architectures()["resnet18"].read_text()
    d = check(client, big, depth=0).json()
    assert not d["trainable"]["ok"] and "MACs per image" in d["trainable"]["why"]
    client.get("/")
    r = client.post("/api/train", json={"text": big, "epochs": 1})
    assert r.status_code == 200  # it starts, and its worker reports the reason
    with client.stream("GET", "/api/train/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                break
    assert event["kind"] == "error" and "MACs per image" in event["errors"][0]["message"]
