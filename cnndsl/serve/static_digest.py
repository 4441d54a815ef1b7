"""The digest of what the playground's page shows: its static files and the server code that feeds them.
docs/playground/screenshots.digest records it when the screenshots are taken; a test compares."""

from __future__ import annotations

import hashlib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def page_digest() -> str:
    h = hashlib.sha256()
    files = sorted(p for p in (HERE / "static").rglob("*") if p.is_file() and "vendor" not in p.parts)
    for path in files + [HERE / "app.py", HERE / "work.py"]:
        h.update(path.relative_to(HERE).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]
