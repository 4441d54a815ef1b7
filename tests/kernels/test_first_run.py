"""A run that has to compile kernels says so once on stderr, and at the end how many and how long; a run from
a warm cache says nothing."""

import os
import re
import subprocess
import sys

import pytest


@pytest.mark.slow  # compiles LeNet-5's kernels from an empty cache
def test_a_first_run_says_it_compiles_and_a_second_does_not(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-m", "cnndsl", "run", "lenet5"], capture_output=True, text=True, env=env)
            for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0]
    assert runs[0].stderr.count("compiling kernels for the first run") == 1
    assert re.search(r"compiled \d+ kernels in \d+\.\d s; later runs load them from the cache", runs[0].stderr)
    assert "compil" not in runs[1].stderr


@pytest.mark.slow  # compiles LeNet-5's kernels from an empty cache
def test_on_a_terminal_the_count_goes_up_in_place_and_is_gone_before_the_table(tmp_path):
    import pty
    import threading
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), COLUMNS="100")
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed its end
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    proc = subprocess.run([sys.executable, "-m", "cnndsl", "run", "lenet5"], stdout=slave, stderr=slave, env=env)
    os.close(slave)
    reader.join(timeout=30)
    os.close(master)
    out = b"".join(chunks).decode()
    assert proc.returncode == 0
    counts = [int(n) for n in re.findall(r"\r  (\d+) compiled, \d+\.\d s \(last: \w+\)", out)]
    assert counts and counts == list(range(1, len(counts) + 1))  # one update per kernel, in place
    before_table = re.sub(r"\x1b\[[0-9;]*m", "", out[:out.index("LeNet5 — batch 1")])
    # what a terminal shows of the table's line before its title: the count was erased, the table starts clean
    assert before_table.rsplit("\n", 1)[-1].rsplit("\r", 1)[-1].strip() == ""
    assert re.search(rf"compiled {counts[-1]} kernels in \d+\.\d s", out)


@pytest.mark.slow  # compiles the finite check's kernel into an empty cache
def test_the_helper_sees_an_empty_cache_without_importing_numba(tmp_path):
    """ahead._cache_is_empty finds numba's index file where numba writes it, before numba is loaded; and no
    kernel's load imports SciPy's linear algebra (numba's BLAS check is deferred), while a kernel of the
    user's own that calls np.dot still compiles."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    probe = ("import sys\nfrom cnndsl.engine import ahead\nempty = ahead._cache_is_empty()\n"
             "assert 'numba' not in sys.modules\nprint(empty)\n")
    code = ("import sys, numpy as np\nfrom cnndsl.kernels.elementwise import max_exponent\n"
            "max_exponent(np.zeros(4, np.uint32), np.uint32(0x7f800000))\n"
            "print('scipy.linalg' in sys.modules)\n"
            "import numba\n@numba.njit\ndef d(a, b):\n    return np.dot(a, b)\n"
            "print(d(np.ones((2, 2)), np.ones((2, 2)))[0, 0])\n")
    run = lambda src: subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, env=env)
    before, loaded, after = run(probe), run(code), run(probe)
    assert before.stdout.split() == ["True"], before.stderr
    assert loaded.stdout.split() == ["False", "2.0"], loaded.stderr
    assert after.stdout.split() == ["False"], after.stderr
