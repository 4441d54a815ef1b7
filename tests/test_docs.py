"""Every example in the README and docs/ runs: .cnn blocks parse, Python blocks pass as doctests,
console blocks' `$ cnndsl …` commands exit 0, and the main job runs end to end."""

import doctest
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import cnndsl

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "docs" / "lessons"  # built from their sources and checked by tests/teach/test_lessons.py
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md") if LESSONS not in p.parents)]
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(kind: str):
    for path in DOCS:
        for i, match in enumerate(FENCE.finditer(path.read_text())):
            if match.group(1) == kind:
                yield pytest.param(match.group(2), id=f"{path.name}-{i}")


@pytest.mark.parametrize("text", list(blocks("cnn")))
def test_cnn_examples_parse(text):
    cnndsl.parse(text, "example.cnn")


@pytest.mark.parametrize("text", list(blocks("python")))
def test_python_examples(text):
    test = doctest.DocTestParser().get_doctest(text, {}, "example", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0 and runner.tries > 0


@pytest.mark.parametrize("text", list(blocks("console")))
def test_console_examples(text, tmp_path):
    commands = [line[2:] for line in text.splitlines() if line.startswith("$ ")]
    assert commands
    (tmp_path / "architectures").symlink_to(ROOT / "architectures")  # the examples' relative paths
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "cnndsl"
        run = subprocess.run([sys.executable, "-m", "cnndsl", *argv[1:]], cwd=tmp_path, capture_output=True,
                             text=True)
        assert run.returncode == 0, run.stderr


def test_readme_starts_with_the_two_setup_commands():
    first = next(FENCE.finditer((ROOT / "README.md").read_text())).group(2).splitlines()
    assert [line.split("#")[0].strip() for line in first] == ["bash scripts/main.sh", "bash scripts/test.sh"]
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text() or "scripts/test.sh" in (
        ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_main_job_runs(tmp_path):
    env = dict(os.environ, CNNDSL_SKIP_INSTALL="1", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    run = subprocess.run(["bash", "scripts/main.sh"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert "LeNet5" in run.stdout and "inception5b" in run.stdout and (ROOT / "out" / "resnet50.json").exists()


def percent(x: float) -> str:
    return f"{100 * x:.1f} %"


def test_the_training_figures_in_the_docs_are_the_recorded_ones():
    """README and docs/training.md state what benchmarks/bench_training.py last measured (seeds 0–9)."""
    import json
    record = json.loads((ROOT / "benchmarks" / "results" / "training.json").read_text())
    low, high = percent(record["min_test_accuracy"]), percent(record["max_test_accuracy"])
    seed0 = percent(record["runs"][0]["test_accuracy"])
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"reaches {seed0} test accuracy ({record['test_images']} held-out images)" in readme
    assert f"between {low} and {high}" in readme
    training = " ".join((ROOT / "docs" / "training.md").read_text().split())
    assert f"{low[:-2]}–{high} test accuracy" in training


@pytest.mark.slow
def test_the_readme_training_run_reaches_the_recorded_accuracy(tmp_path):
    """The README's command, run here: within one test image of the record (BLAS kernels differ by machine)."""
    import json
    record = json.loads((ROOT / "benchmarks" / "results" / "training.json").read_text())
    run = subprocess.run([sys.executable, "-m", "cnndsl", "train", "lenet5", "--epochs", "10", "--metrics", "m.json"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    got = json.loads((tmp_path / "m.json").read_text())["test_accuracy"]
    assert abs(got - record["runs"][0]["test_accuracy"]) <= 1 / record["test_images"] + 1e-9
