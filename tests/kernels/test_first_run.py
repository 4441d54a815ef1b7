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
