"""Shared helpers. One numba cache directory serves the whole run (set before numba is imported)."""

import os
from pathlib import Path

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".numba_cache"))

import pytest  # noqa: E402

import cnndsl  # noqa: E402

HEADER = "network T\ninput {shape}\n"


def net_of(body: str, shape: str = "3x32x32") -> cnndsl.Network:
    """A network from a body of statements, after a standard two-line header."""
    return cnndsl.parse(HEADER.format(shape=shape) + body, "t.cnn")


def error_of(text: str, filename: str = "t.cnn") -> cnndsl.CnnError:
    with pytest.raises(cnndsl.CnnError) as info:
        cnndsl.parse(text, filename)
    return info.value


def body_error(body: str, shape: str = "3x32x32") -> cnndsl.CnnError:
    return error_of(HEADER.format(shape=shape) + body)
