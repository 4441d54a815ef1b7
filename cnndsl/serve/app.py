"""The playground's web app (Starlette, served by uvicorn): the page, its scripts, and a small JSON API.

    GET  /                    the page (sets the session cookie)
    GET  /api/examples        the shipped architectures and the lessons' networks: [{name, group, title}]
    GET  /api/example/NAME    one of them, as text
    GET  /api/start           the text `cnndsl serve FILE` was started with, and the language's words
    POST /api/check           {text, depth, rankdir} → diagram (SVG), summary, boxes → lines; or the errors
    POST /api/explain         {text, node} → the arithmetic of one layer or block
    POST /api/onnx            {text} → the ONNX file (fresh weights)
    POST /api/train           {text, epochs} → starts the session's training job (one at a time)
    GET  /api/train/events    the job's progress, as server-sent events
    POST /api/train/stop      stops it

Every check, drawing and explanation runs in a pool of worker processes with a time limit: a runaway
request is stopped by killing its worker, and the server goes on. Request bodies are capped. No user text
is ever evaluated: it is parsed by cnndsl's grammar, as on the command line.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import queue
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from concurrent.futures import TimeoutError as FutureTimeout
from pebble import ProcessPool
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import work

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 256 * 1024  # bytes of a request body: a .cnn file is a few KB
MAX_TEXT = 200_000  # characters of network text
CHECK_TIMEOUT = 8.0  # seconds for a check and its drawing, in a worker
EXPLAIN_TIMEOUT = 5.0
ONNX_TIMEOUT = 30.0
MAX_EPOCHS = 20
COOKIE = "cnndsl_session"


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Job:
    """A training run in a process of its own; its events are kept so any tab can follow them."""

    process: multiprocessing.Process
    events_queue: object
    events: list[dict] = field(default_factory=list)
    finished: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, event: dict) -> None:
        self.events.append(event)
        if event["kind"] in ("done", "error", "stopped"):
            self.finished = True
        self.changed.set()
        self.changed = asyncio.Event()


class Playground:
    def __init__(self, start_text: str | None = None, start_name: str | None = None, workers: int = 2):
        self.start_text, self.start_name = start_text, start_name
        self.workers = workers
        self.pool: ProcessPool | None = None
        self.jobs: dict[str, Job] = {}
        self.ctx = multiprocessing.get_context("spawn")

    # ---- the worker pool ----------------------------------------------------------------------------
    def open(self) -> None:
        self.pool = ProcessPool(max_workers=self.workers, initializer=work.warm, context=self.ctx)

    def close(self) -> None:
        for job in self.jobs.values():
            if job.process.is_alive():
                job.process.terminate()
        if self.pool is not None:
            self.pool.stop()
            self.pool.join(timeout=5)

    async def run(self, fn, *args, timeout: float):
        future = self.pool.schedule(fn, args=args, timeout=timeout)
        try:
            return await asyncio.wrap_future(future)
        except FutureTimeout:
            raise BadRequest(f"stopped after {timeout:g} s: the network is too large for the playground",
                             status=422) from None

    # ---- requests -----------------------------------------------------------------------------------
    async def read_json(self, request: Request) -> dict:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            raise BadRequest(f"the request is larger than {MAX_BODY // 1024} KB", status=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise BadRequest(f"the request is larger than {MAX_BODY // 1024} KB", status=413)
        try:
            data = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("the request is not JSON") from None
        if not isinstance(data, dict):
            raise BadRequest("the request must be a JSON object")
        return data

    @staticmethod
    def text_of(data: dict) -> str:
        text = data.get("text")
        if not isinstance(text, str):
            raise BadRequest("`text` must be the network's text (a string)")
        if len(text) > MAX_TEXT:
            raise BadRequest(f"the text is longer than {MAX_TEXT:,} characters", status=413)
        return text

    async def check(self, request: Request) -> Response:
        data = await self.read_json(request)
        text = self.text_of(data)
        depth = data.get("depth", "auto")
        if depth not in ("auto", None) and not (isinstance(depth, int) and not isinstance(depth, bool) and 0 <= depth <= 64):
            raise BadRequest("`depth` must be \"auto\", null (everything) or a whole number 0–64")
        rankdir = data.get("rankdir", "TB")
        if rankdir not in ("TB", "LR"):
            raise BadRequest("`rankdir` must be \"TB\" or \"LR\"")
        began = time.perf_counter()
        result = await self.run(work.check, text, depth, rankdir, timeout=CHECK_TIMEOUT)
        result.setdefault("seconds", {})["server"] = time.perf_counter() - began
        return JSONResponse(result)

    async def explain(self, request: Request) -> Response:
        data = await self.read_json(request)
        node = data.get("node")
        if not isinstance(node, str) or not node or len(node) > 1000:
            raise BadRequest("`node` must name a layer or block")
        return JSONResponse(await self.run(work.explain, self.text_of(data), node, timeout=EXPLAIN_TIMEOUT))

    async def onnx(self, request: Request) -> Response:
        from ..errors import CnnError
        data = await self.read_json(request)
        try:
            blob = await self.run(work.onnx, self.text_of(data), timeout=ONNX_TIMEOUT)
        except CnnError as e:
            return JSONResponse({"ok": False, "errors": work.errors_of(e)}, status_code=422)
        return Response(blob, media_type="application/octet-stream",
                        headers={"Content-Disposition": 'attachment; filename="network.onnx"'})

    # ---- training -----------------------------------------------------------------------------------
    def session(self, request: Request) -> str:
        sid = request.cookies.get(COOKIE)
        if not sid or len(sid) > 64:
            raise BadRequest("no session: reload the page")
        return sid

    async def train(self, request: Request) -> Response:
        sid = self.session(request)
        data = await self.read_json(request)
        text = self.text_of(data)
        epochs = data.get("epochs", 3)
        if not isinstance(epochs, int) or isinstance(epochs, bool) or not 1 <= epochs <= MAX_EPOCHS:
            raise BadRequest(f"`epochs` must be a whole number 1–{MAX_EPOCHS}")
        job = self.jobs.get(sid)
        if job is not None and not job.finished:
            raise BadRequest("a training run of this session is under way: stop it first", status=409)
        events = self.ctx.Queue()
        process = self.ctx.Process(target=work.train, args=(text, epochs, events), daemon=True)
        process.start()
        job = self.jobs[sid] = Job(process, events)
        asyncio.get_running_loop().create_task(self._drain(job))
        return JSONResponse({"ok": True})

    async def _drain(self, job: Job) -> None:
        """Move the worker's events into the job, until it ends (or dies)."""
        while not job.finished:
            try:
                event = await asyncio.to_thread(job.events_queue.get, True, 0.25)
            except queue.Empty:
                if not job.process.is_alive() and not job.finished:
                    await asyncio.sleep(0.3)  # its last events may still be in the pipe
                    try:
                        while True:
                            job.add(job.events_queue.get_nowait())
                    except queue.Empty:
                        pass
                    if not job.finished:
                        job.add({"kind": "error", "errors": [{"message": "the training process ended unexpectedly",
                                                              "line": None, "hint": None}]})
                continue
            job.add(event)
        job.process.join(timeout=1)

    async def stop(self, request: Request) -> Response:
        job = self.jobs.get(self.session(request))
        if job is None or job.finished:
            return JSONResponse({"ok": True, "running": False})
        job.process.terminate()
        job.add({"kind": "stopped"})
        return JSONResponse({"ok": True, "running": False})

    async def events(self, request: Request) -> Response:
        job = self.jobs.get(self.session(request))
        if job is None:
            raise BadRequest("no training run in this session", status=404)

        async def stream():
            sent = 0
            while True:
                while sent < len(job.events):
                    yield {"data": json.dumps(job.events[sent])}
                    sent += 1
                if job.finished and sent >= len(job.events):
                    return
                changed = job.changed
                try:
                    await asyncio.wait_for(changed.wait(), timeout=15)
                except asyncio.TimeoutError:
                    pass
        return EventSourceResponse(stream(), ping=10)

    # ---- the page and its data ----------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        response = FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})
        if not request.cookies.get(COOKIE):
            response.set_cookie(COOKIE, secrets.token_urlsafe(16), httponly=True, samesite="strict")
        return response

    async def start(self, request: Request) -> Response:
        from ..ops import REGISTRY
        words = sorted({name for cls in REGISTRY.values() for name in (cls.name, *cls.aliases)} - {"input"})
        return JSONResponse({"name": self.start_name, "text": self.start_text, "layers": words})

    async def examples(self, request: Request) -> Response:
        return JSONResponse([{"name": e["name"], "group": e["group"], "title": e["title"]} for e in _examples().values()])

    async def example(self, request: Request) -> Response:
        found = _examples().get(request.path_params["name"])
        if found is None:
            raise BadRequest("no such example", status=404)
        return JSONResponse({"name": found["name"], "text": found["path"].read_text()})


def _examples() -> dict[str, dict]:
    from ..resources import lesson_networks, shipped_architectures
    out = {}
    for group, files in (("architectures", shipped_architectures()), ("lessons", lesson_networks())):
        for name, path in files.items():
            first = next((line.lstrip("# ").strip() for line in path.read_text().splitlines() if line.startswith("#")), "")
            out[name] = {"name": name, "group": group, "title": first.split(" — ")[0][:80], "path": path}
    return out


def make_app(start_text: str | None = None, start_name: str | None = None, workers: int = 2) -> Starlette:
    pg = Playground(start_text, start_name, workers)

    def guarded(handler):
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except BadRequest as e:
                return JSONResponse({"ok": False, "errors": [{"message": e.message, "line": None, "hint": None}]},
                                    status_code=e.status)
        return endpoint

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        pg.open()
        try:
            yield
        finally:
            pg.close()

    routes = [
        Route("/", guarded(pg.page)),
        Route("/api/start", guarded(pg.start)),
        Route("/api/examples", guarded(pg.examples)),
        Route("/api/example/{name}", guarded(pg.example)),
        Route("/api/check", guarded(pg.check), methods=["POST"]),
        Route("/api/explain", guarded(pg.explain), methods=["POST"]),
        Route("/api/onnx", guarded(pg.onnx), methods=["POST"]),
        Route("/api/train", guarded(pg.train), methods=["POST"]),
        Route("/api/train/stop", guarded(pg.stop), methods=["POST"]),
        Route("/api/train/events", guarded(pg.events)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.playground = pg
    return app
