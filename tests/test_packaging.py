"""A wheel built from the repository works outside the checkout: grammar and architectures ship inside."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True)
    (path,) = out.glob("cnndsl-*.whl")
    return path


def test_wheel_carries_grammar_and_architectures(wheel):
    import zipfile
    names = zipfile.ZipFile(wheel).namelist()
    assert "cnndsl/grammars/cnn.lark" in names
    assert {f"cnndsl/architectures/{n}.cnn" for n in ("lenet5", "resnet50", "googlenet")} <= set(names)
    # the playground's page and its libraries, and its examples from the lessons
    assert {"cnndsl/serve/static/index.html", "cnndsl/serve/static/app.js",
            "cnndsl/serve/static/vendor/codemirror/codemirror.js", "cnndsl/lesson_nets/digits_relu.cnn"} <= set(names)


def test_installed_wheel_runs_outside_the_checkout(wheel, tmp_path):
    """The wheel unpacked into a folder of its own, ahead of everything on the path (the running
    interpreter's packages — a venv's or the system's — supply the dependencies)."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    code = ("import cnndsl, cnndsl.resources as r; net = cnndsl.load('resnet50'); "
            "print(net.param_count, r.grammar_path())")
    env = dict(os.environ, PYTHONPATH=str(target))
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    params, grammar = run.stdout.split()
    assert params == "25557032" and grammar.startswith(str(target))
