"""Starting the playground's server: the extra's check, the listening socket, uvicorn."""

from __future__ import annotations

import ipaddress
import socket
import sys

from ..errors import CnnError

EXTRA = "pip install 'cnndsl[serve]'"


def need_server():
    try:
        import pebble  # noqa: F401
        import sse_starlette  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as e:
        raise CnnError(f"`cnndsl serve` needs the serve extra ({e.name} is missing)", hint=EXTRA) from None
    return uvicorn


def loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (port 0: any free one), or a clear error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise CnnError(f"--host {host}: {e.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        hint = "choose another with --port (0 picks a free one)" if e.errno in (98, 48) else None
        raise CnnError(f"cannot listen on {host}:{port}: {e.strerror}", hint=hint) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(text: str | None, name: str | None, host: str = "127.0.0.1", port: int = 8000, announce=print) -> None:
    uvicorn = need_server()
    from .app import make_app
    if not loopback(host):
        print(f"warning: serving on {host}, which other machines can reach; the playground has no login",
              file=sys.stderr)
    sock = bind(host, port)
    shown = sock.getsockname()
    where = f"[{shown[0]}]" if ":" in shown[0] else shown[0]
    announce(f"cnndsl playground on http://{where}:{shown[1]}/  (Ctrl+C stops it)")
    config = uvicorn.Config(make_app(text, name), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
