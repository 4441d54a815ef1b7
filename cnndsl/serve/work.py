"""What the playground's server asks of cnndsl, run in worker processes (a check, a drawing, an explanation,
a training run), so that a slow or runaway request is stopped by killing its worker, never by waiting.

Every function takes plain data and returns plain data (JSON-ready): the text of the network, never an
object of the server's.
"""

from __future__ import annotations

import base64
import tempfile
import time
from pathlib import Path

FILENAME = "playground.cnn"
MAX_TRAIN_MACS = 5_000_000  # per image: a few epochs on the digits take seconds, not minutes
DOT_TIMEOUT = 4.0  # seconds for Graphviz; the worker as a whole has a little more


WARM_UP = "network W\ninput 3x8x8\nblock b(c) { residual { conv c 3x3 pad=1; bn; relu } }\nb(3)\ngap\nflatten\ndense 2\n"


def warm() -> None:
    """Import and run once what a check needs, so that a fresh worker's first request is as fast as the rest."""
    check(WARM_UP)
    explain(WARM_UP, "b1")


def error_dict(e) -> dict:
    pos = e.pos
    return {"message": e.message, "hint": e.hint, "kind": getattr(e, "kind", "error"),
            "line": pos.line if pos else None, "column": pos.column if pos else None,
            "end_line": pos.end_line if pos else None, "end_column": pos.end_column if pos else None}


def errors_of(e) -> list[dict]:
    from ..errors import CnnErrors
    return [error_dict(x) for x in (e.errors if isinstance(e, CnnErrors) else [e])]


def parse(text: str):
    import cnndsl
    return cnndsl.parse(text, FILENAME)


def check(text: str, depth: int | str | None = "auto", rankdir: str = "TB") -> dict:
    """The network's diagram (SVG), summary and boxes → lines; or its errors, every one the checker found."""
    from ..errors import CnnError
    from ..render.dot import diagram, layout
    from ..render.view import auto_depth, build_view
    from ..summary import describe, summary_dict
    began = time.perf_counter()
    try:
        net = parse(text)
    except CnnError as e:
        return {"ok": False, "errors": errors_of(e), "seconds": {"check": time.perf_counter() - began}}
    checked = time.perf_counter()
    depth = auto_depth(net) if depth == "auto" else depth
    try:
        dot = diagram(net, depth, rankdir)
        svg = layout(dot.source, "svg", timeout=DOT_TIMEOUT).decode()
    except CnnError as e:  # too many boxes, Graphviz too slow: the table still comes
        svg, drawing_error = None, error_dict(e)
    else:
        drawing_error = None
    drawn = time.perf_counter()
    g = net.graph
    units = {}
    for uid, unit in build_view(g, depth).units.items():
        if unit.kind == "input":
            units[uid] = {"line": net.node("input").line, "node": "input", "kind": "input"}
        elif unit.kind == "block":
            info = g.graph["blocks"][unit.blocks[0]]
            units[uid] = {"line": info["line"], "node": unit.blocks[0], "kind": "block"}
        else:
            node = net.node(unit.nodes[0])
            units[uid] = {"line": node.line, "column": node.pos.column, "node": unit.nodes[0], "kind": "layer"}
    summary = summary_dict(net)
    for row in summary["layers"]:
        row["describe"] = describe(net.node(row["name"]))
    return {"ok": True, "name": net.name, "svg": svg, "drawing_error": drawing_error, "summary": summary,
            "units": units, "depth": depth, "notes": [error_dict(n) for n in net.notes],
            "trainable": trainable(net),
            "seconds": {"check": checked - began, "draw": drawn - checked, "total": time.perf_counter() - began}}


def trainable(net) -> dict:
    """Whether the page offers to train the network on the digits, and if not, why."""
    from ..errors import CnnError
    from ..training.trainer import check_trainable
    if net.macs > MAX_TRAIN_MACS:
        return {"ok": False, "why": f"{net.macs:,} MACs per image: the playground trains networks of up to "
                                    f"{MAX_TRAIN_MACS:,} (use `cnndsl train` for larger ones)"}
    try:
        check_trainable(net)
    except CnnError as e:
        return {"ok": False, "why": e.message}
    return {"ok": True, "why": None}


def explain(text: str, node: str) -> dict:
    """The arithmetic behind one layer's or block's numbers (`cnndsl explain`)."""
    from ..errors import CnnError
    from ..teach.explain import explain as run, explain_json
    try:
        return {"ok": True, **explain_json(run(parse(text), node))}
    except CnnError as e:
        return {"ok": False, "errors": errors_of(e)}


def onnx(text: str) -> bytes:
    """The inference graph as ONNX, fresh weights from seed 0 (the `onnx` extra)."""
    from ..export.onnx import need_onnx, to_onnx
    need_onnx()
    return to_onnx(parse(text).init(0)).SerializeToString()


def train(text: str, epochs: int, events) -> None:
    """Train on the built-in digits for a few epochs, sending {"kind": "progress", …} after every few
    steps and {"kind": "done", "maps": PNG} with the feature maps of one test image at the end (or
    {"kind": "error"}). Runs in a process of its own; `events` is a multiprocessing queue."""
    try:
        _train(text, epochs, events)
    except Exception as e:  # noqa: BLE001 — whatever happens is the page's to show, not a traceback
        from ..errors import CnnError
        events.put({"kind": "error", "errors": errors_of(e) if isinstance(e, CnnError) else
                    [{"message": f"training stopped: {type(e).__name__}: {e}", "line": None, "hint": None}]})


def _train(text: str, epochs: int, events) -> None:
    import numpy as np

    from ..errors import CnnError
    from ..teach.data import classifier_data
    from ..teach.show import show
    from ..training.optim import Adam
    from ..training.trainer import evaluate
    net = parse(text)
    ok = trainable(net)
    if not ok["ok"]:
        raise CnnError(ok["why"])
    data = classifier_data(net, "digits")
    net.init(0)
    opt = Adam(1e-3)
    batch, n = 32, len(data.train.y)
    steps_per_epoch = max(n // batch, 1)
    rng = np.random.default_rng(0)
    events.put({"kind": "start", "epochs": epochs, "steps_per_epoch": steps_per_epoch, "data": data.name})
    step, began = 0, time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(n)
        for k in range(steps_per_epoch):
            idx = order[k * batch:(k + 1) * batch]
            loss = float(net.loss(data.train.x[idx], data.train.y[idx], seed=step))
            net.backward(input_grad=False)
            opt.step(net.params, net.grads)
            step += 1
            if step % 10 == 0:
                events.put({"kind": "progress", "step": step, "epoch": epoch + 1, "loss": loss,
                            "seconds": time.perf_counter() - began})
        val_loss, val_acc = evaluate(net, data.val.x, data.val.y)
        train_loss, train_acc = evaluate(net, data.train.x[:500], data.train.y[:500])
        events.put({"kind": "epoch", "step": step, "epoch": epoch + 1, "val_accuracy": val_acc, "val_loss": val_loss,
                    "train_accuracy": train_acc, "seconds": time.perf_counter() - began})
    x, label = data.test.x[0], int(data.test.y[0])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "maps.png"
        answer = show(net, x, label, path, title=f"{net.name} on one test digit (label {label})")
        png = base64.b64encode(path.read_bytes()).decode()
    test_loss, test_acc = evaluate(net, data.test.x, data.test.y)
    events.put({"kind": "done", "maps": png, "test_accuracy": test_acc, "answer": _jsonable(answer),
                "seconds": time.perf_counter() - began})


def _jsonable(value):
    import numpy as np
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
