"""numba's on-disk cache, written safely by several cnndsl processes at once.

numba saves a compiled kernel by reading the function's index, picking a data-file name no entry uses,
then writing the index and the data. Two processes saving two signatures of one function at the same
moment can pick the same name, and the index may then point one signature at the other's machine code.
cnndsl compiles in several processes at once (`cnndsl warm`, the playground's workers), so each save
holds an exclusive lock on one file in the cache directory; loads need none (every file is replaced
whole, and a name once in the index is never given to another signature).
"""

from __future__ import annotations

import os

LOCK_NAME = ".cnndsl-save.lock"
_guarded = False


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
