"""A corpus of malformed files (tests/malformed/): each names its expected line and message gist in
its first line (`# expect: LINE: gist`), and the CLI reports exactly that, without a traceback."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import cnndsl

CORPUS = sorted((Path(__file__).parent / "malformed").glob("*.cnn"))


def expectation(path: Path) -> tuple[int, str]:
    first = path.read_text().splitlines()[0]
    line, gist = first.removeprefix("# expect: ").split(": ", 1)
    return int(line), gist


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_error_names_file_line_and_gist(path):
    line, gist = expectation(path)
    with pytest.raises(cnndsl.CnnError) as info:
        cnndsl.load(path)
    error = info.value
    assert error.pos is not None and error.pos.line == line and error.pos.file == str(path)
    assert gist in str(error)
    rendered = str(error).splitlines()
    assert rendered[0].startswith(f"{path}:{line}:") and rendered[2].strip().startswith("|")
    assert re.fullmatch(r" +\| *\^~*", rendered[2].rstrip())  # the caret, and the token underlined


def test_cli_check_exits_1_without_traceback():
    for path in CORPUS[:4]:
        line, gist = expectation(path)
        run = subprocess.run([sys.executable, "-m", "cnndsl", "check", str(path)], capture_output=True, text=True)
        assert run.returncode == 1 and "Traceback" not in run.stderr
        assert run.stderr.startswith(f"{path}:{line}:") and gist in run.stderr and run.stdout == ""
