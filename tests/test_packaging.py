"""A wheel built from the repository works outside the checkout: grammar and architectures ship inside."""

import subprocess
import sys
import venv
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


def test_installed_wheel_runs_outside_the_checkout(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet",
                    str(wheel)], check=True, capture_output=True)
    code = ("import cnndsl, cnndsl.resources as r; net = cnndsl.load('resnet50'); "
            "print(net.param_count, r.grammar_path())")
    run = subprocess.run([str(python), "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    params, grammar = run.stdout.split()
    assert params == "25557032" and str(env_dir) in grammar
