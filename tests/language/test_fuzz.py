"""Property-based: any text either parses into a Network or raises CnnError — nothing else escapes."""

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnndsl
from cnndsl.resources import shipped_architectures

SEEDS = [p.read_text() for p in shipped_architectures().values()]
TOKENS = ["conv", "8", "3x3", "stride=2", "pad=1", "relu", "{", "}", "(", ")", ";", "\n", "concat", "branch",
          "add", "@a", "a:", "from", "residual", "shortcut", "aux", "repeat", "2", "block", "b(c)", "c", "b(4)",
          "maxpool", "flatten", "dense", "gap", "*", "//", "-", "=", "x", "1e-4", ",", "#", "input", "network",
          "3x8x8", "bn", "lrn", "dropout", "0.5", "softmax"]


def check(text: str) -> None:
    try:
        cnndsl.parse(text, "fuzz.cnn")
    except cnndsl.CnnError as e:
        assert str(e)  # renders without failing


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text(max_size=200))
def test_random_text(text):
    check(text)


@FAST
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_random_token_soup(tokens):
    check("network T\ninput 3x8x8\n" + " ".join(tokens))


@FAST
@given(st.integers(0, len(SEEDS) - 1), st.integers(0, 10**6), st.sampled_from(["delete", "insert", "swap", "dup"]),
       st.sampled_from(TOKENS + ["", "x", "0", "999999", "-1", "\t", "×", "'", "{{"]))
def test_mutated_architectures(which, where, how, token):
    text = SEEDS[which]
    i = where % (len(text) + 1)
    j = min(len(text), i + random.Random(where).randint(1, 12))
    if how == "delete":
        text = text[:i] + text[j:]
    elif how == "insert":
        text = text[:i] + token + text[i:]
    elif how == "swap":
        text = text[:i] + token + text[j:]
    else:
        text = text[:i] + text[i:j] * 2 + text[j:]
    check(text)
