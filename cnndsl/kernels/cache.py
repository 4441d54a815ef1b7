"""numba's on-disk cache, written safely by several cnndsl processes at once.

numba saves a compiled kernel by reading the function's index, picking a data-file name no entry uses,
then writing the index and the data. Two processes saving two signatures of one function at the same
moment can pick the same name, and the index may then point one signature at the other's machine code.
cnndsl compiles in several processes at once (`cnndsl warm`, the playground's workers), so each save
holds an exclusive lock on one file in the cache directory; loads need none (every file is replaced
whole, and a name once in the index is never given to another signature).

Each compile also holds a claim on its kernel (one function, one signature): a byte of one lock file,
picked by a hash of numba's cache key. A process that misses the cache while another holds the claim
waits for it and loads what the other saved rather than compiling the same kernel a second time
(`cnndsl warm`'s processes meet the kernels every unit shares; a first run and its helper meet each
other's); the first-run helper, whose work is only ahead-of-time, skips a claimed kernel instead
(`claims(wait=False)`).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

LOCK_NAME = ".cnndsl-save.lock"
CLAIMS_NAME = ".cnndsl-claims.lock"
WAIT_S = 120.0  # at most, for another process's compile: then this one compiles too
_guarded = False
_wait = True  # claims(wait=False): a claimed kernel raises Claimed instead
_claims: dict[str, int] = {}  # cache directory → this process's descriptor of its claims file (kept open)
_held = threading.local()  # per compile in progress on this thread (innermost last), the claims it holds


class Claimed(RuntimeError):
    """Another process is compiling this kernel (raised only under claims(wait=False))."""


def claims(wait: bool) -> None:
    """On a cache miss that another process has claimed: wait for its kernel (True), or raise Claimed."""
    global _wait
    _wait = wait


def guard() -> None:
    """Make numba's cache saves take the lock (once per process; a no-op where there is no fcntl)."""
    global _guarded
    if _guarded:
        return
    _guarded = True
    try:
        import fcntl

        from numba.core.caching import IndexDataCacheFile
    except ImportError:
        return
    unlocked = IndexDataCacheFile.save

    def save(self, key, data):
        try:
            fd = os.open(os.path.join(self._cache_path, LOCK_NAME), os.O_CREAT | os.O_RDWR, 0o644)
        except OSError:  # a read-only or vanished directory: numba reports it as it would
            return unlocked(self, key, data)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return unlocked(self, key, data)
        finally:
            os.close(fd)  # and with it the lock

    save.__wrapped__ = unlocked
    IndexDataCacheFile.save = save
    _claim_compiles()


def _claim_compiles() -> None:
    """Make each cache miss claim its kernel until the compile that follows it ends (see the module)."""
    import fcntl

    from numba.core.caching import Cache
    from numba.core.dispatcher import Dispatcher
    load, compile_ = Cache.load_overload, Dispatcher.compile

    def lock(fd: int, byte: int) -> bool:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, byte)
            return True
        except OSError:
            return False

    def load_overload(self, sig, target_context):
        cres = load(self, sig, target_context)
        held = _held.__dict__.get("claims")
        if cres is not None or not held:  # found, or not within a dispatcher's compile (a ufunc's, a cfunc's)
            return cres
        try:
            fd = _claims.get(self._cache_path)
            if fd is None:
                fd = _claims[self._cache_path] = os.open(os.path.join(self._cache_path, CLAIMS_NAME),
                                                         os.O_CREAT | os.O_RDWR, 0o644)
            key = repr((self._cache_file._index_name, self._index_key(sig, target_context.codegen())))
            byte = int(hashlib.sha1(key.encode()).hexdigest()[:12], 16)
        except Exception:  # noqa: BLE001 — no claims here (a read-only cache, another numba): compile as numba would
            return None
        if not lock(fd, byte):
            if not _wait:
                raise Claimed(f"{self._name} is being compiled by another process")
            deadline = time.monotonic() + WAIT_S
            while not lock(fd, byte) and time.monotonic() < deadline:
                time.sleep(0.005)
            cres = load(self, sig, target_context)  # what the other process saved, if it did
            if cres is not None:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, byte)
                return cres
        held[-1].append((fd, byte))
        return None

    def compile(self, sig):
        held = _held.__dict__.setdefault("claims", [])  # per compile in progress, the claims it took
        held.append([])
        try:
            return compile_(self, sig)
        finally:  # saved (or failed): its claims released
            for fd, byte in held.pop():
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, byte)

    load_overload.__wrapped__, compile.__wrapped__ = load, compile_
    Cache.load_overload, Dispatcher.compile = load_overload, compile
