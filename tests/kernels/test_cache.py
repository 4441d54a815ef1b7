"""Claims on compiles (kernels/cache.py): a process that misses numba's cache while another compiles the
same kernel waits and loads the other's (or, as the first-run helper, skips it); a failed compile frees
its claim."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

MODULE = """
from numba import njit

@njit(cache=True)
def f(x):
    return x + 1
"""

# The first process: compiles f slowly (it prints when it begins), or fails to, then stays a while.
FIRST = """
import sys, time
import cnndsl.kernels.jit  # noqa: F401 — installs the claims
import mod
real = mod.f._compiler.compile
def slow(*args, **kwargs):
    print("compiling", flush=True)
    time.sleep(1.5)
    if FAIL:
        raise RuntimeError("this compile fails")
    return real(*args, **kwargs)
mod.f._compiler.compile = slow
try:
    mod.f(1)
except RuntimeError:
    print("failed", flush=True)
    time.sleep(6)
"""

# The second: calls f once; prints what numba did (kernels compiled, cache hits) or what it raised.
SECOND = """
import time
import cnndsl.kernels.jit  # noqa: F401
from cnndsl.kernels import cache
from cnndsl.kernels.lazy import compile_counter
from numba.core import event
import mod
cache.claims(wait=WAIT)
count = compile_counter()
event.register("numba:compile", count)
t = time.perf_counter()
try:
    mod.f(1)
    print("compiled", count.kernels, "loaded", sum(mod.f._cache_hits.values()), "in", time.perf_counter() - t)
except cache.Claimed as e:
    print("claimed:", e)
"""


def _env(tmp_path):
    (tmp_path / "mod.py").write_text(MODULE)
    pythonpath = os.pathsep.join(p for p in [str(tmp_path), os.environ.get("PYTHONPATH", "")] if p)
    return dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=pythonpath)


def _first(tmp_path, fail: bool) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", f"FAIL = {fail}\n" + textwrap.dedent(FIRST)],
                            stdout=subprocess.PIPE, text=True, env=_env(tmp_path))
    assert proc.stdout.readline().strip() == "compiling"
    return proc


def _second(tmp_path, wait: bool) -> str:
    result = subprocess.run([sys.executable, "-c", f"WAIT = {wait}\n" + textwrap.dedent(SECOND)],
                            capture_output=True, text=True, env=_env(tmp_path), timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _while_first_compiles(tmp_path, wait: bool) -> str:
    first = _first(tmp_path, fail=False)
    try:
        return _second(tmp_path, wait)
    finally:
        first.wait(timeout=60)


def test_a_process_waits_for_a_kernel_another_is_compiling_and_loads_it(tmp_path):
    out = _while_first_compiles(tmp_path, wait=True)
    assert out.split()[:4] == ["compiled", "0", "loaded", "1"], out  # without the claim: compiled 1, loaded 0


def test_the_helper_skips_a_kernel_another_process_is_compiling(tmp_path):
    out = _while_first_compiles(tmp_path, wait=False)
    assert out.startswith("claimed:") and "being compiled by another process" in out, out


def test_a_failed_compile_frees_its_claim(tmp_path):
    first = _first(tmp_path, fail=True)
    try:
        assert first.stdout.readline().strip() == "failed"
        t = time.perf_counter()
        out = _second(tmp_path, wait=True)  # the first process is still alive: its claim must be gone
        assert time.perf_counter() - t < 5
    finally:
        first.kill()
        first.wait()
    assert out.split()[:4] == ["compiled", "1", "loaded", "0"], out
