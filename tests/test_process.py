"""Importing and using cnndsl leaves the process as it was; the command, or an explicit call, tunes it."""

import subprocess
import sys
import textwrap


def python(code: str, env=None) -> str:
    import os
    environment = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT",)} | (env or {})
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env=environment)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_using_the_library_changes_no_setting_of_the_process():
    out = python("""
        import os, sys
        before = dict(os.environ)
        import cnndsl, numpy as np
        net = cnndsl.load("lenet5")
        net.summary(), net.to_dict(), net.diagram()
        same = dict(os.environ) == before
        net.init(0).forward(np.zeros((2, 1, 32, 32), np.float32))
        changed = sorted(k for k in set(os.environ) | set(before) if os.environ.get(k) != before.get(k))
        print(same, "cnndsl.process" in sys.modules, changed)
    """)
    # running the kernels imports threadpoolctl, which sets its own default for Intel's OpenMP
    assert out in ("True False []", "True False ['KMP_DUPLICATE_LIB_OK']")


def test_import_is_light():
    out = python("""
        import sys
        import cnndsl
        print(sorted(m for m in ("numpy", "numba", "lark", "networkx") if m in sys.modules))
    """)
    assert out == "[]"


def test_tune_process_sets_the_openblas_timeout_before_numpy_and_keeps_a_users_value():
    assert python("""
        import os, cnndsl
        print(cnndsl.tune_process()["openblas_timeout"], os.environ.get("OPENBLAS_THREAD_TIMEOUT"))
    """) == "True 4"
    assert python("""
        import os, cnndsl
        print(cnndsl.tune_process()["openblas_timeout"], os.environ.get("OPENBLAS_THREAD_TIMEOUT"))
    """, env={"OPENBLAS_THREAD_TIMEOUT": "7"}) == "False 7"
    assert python("""
        import numpy, cnndsl
        print(cnndsl.tune_process()["openblas_timeout"])
    """) == "False"
    assert python("""
        import cnndsl
        print(cnndsl.tune_process()["malloc"])
    """, env={"MALLOC_ARENA_MAX": "2"}) == "False"


def test_checking_and_counting_a_network_loads_neither_numpy_nor_numba():
    """`cnndsl check` reads the ops' shape and cost rules only: NumPy (a fifth of its time) and numba load
    when a layer runs."""
    out = python("""
        import sys
        from cnndsl.cli import main
        main(["check", "resnet50"])
        main(["summary", "googlenet"])
        print(sorted(m for m in ("numpy", "numba") if m in sys.modules))
    """)
    assert out.splitlines()[-1] == "[]"
