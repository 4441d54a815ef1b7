"""Property-based: any text either parses into a Network or raises CnnError — nothing else escapes,
and none takes long: each example is bounded in CPU time, which catches quadratic and runaway cases."""

import gc
import random
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnndsl
from cnndsl.resources import shipped_architectures

SEEDS = [p.read_text() for p in shipped_architectures().values()]
TOKENS = ["conv", "8", "3x3", "stride=2", "pad=1", "relu", "{", "}", "(", ")", ";", "\n", "concat", "branch",
          "add", "@a", "a:", "from", "residual", "shortcut", "aux", "repeat", "2", "block", "b(c)", "c", "b(4)",
          "maxpool", "flatten", "dense", "gap", "*", "//", "-", "=", "x", "1e-4", ",", "#", "input", "network",
          "3x8x8", "bn", "lrn", "dropout", "0.5", "softmax"]


BUDGET_S = 2.0  # CPU seconds a single program may take, whatever it is


def check(text: str) -> None:
    """Parses within BUDGET_S of CPU, measured twice if the first is over: a virtual machine's host can stall
    a process for seconds that it counts as the process's own (a CI dry run saw 2.03 s for a program that
    takes 0.2), while a real blow-up is over both times."""
    assert _parse_seconds(text) < BUDGET_S or _parse_seconds(text) < BUDGET_S


def _parse_seconds(text: str) -> float:
    gc.disable()  # a collection of earlier examples' garbage (and the test session's) is not this one's time
    start = time.process_time()
    try:
        cnndsl.parse(text, "fuzz.cnn")
    except cnndsl.CnnError as e:
        assert str(e)  # renders without failing
        assert len(str(e)) < 1000 * len(getattr(e, "errors", [e]))  # and never echoes a huge input
    finally:
        gc.enable()
    return time.process_time() - start


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


HEAD = "network T\ninput 3x8x8\n"
OPENINGS = ["concat { branch { ", "residual { ", "repeat 1 { ", "aux { ", "repeat 2 { "]
CLOSINGS = {"concat { branch { ": " } }"}


@FAST
@given(st.lists(st.sampled_from(OPENINGS), min_size=1, max_size=400), st.sampled_from(["relu", "conv 3 1x1", "gap"]))
def test_deep_nesting(openings, inner):
    check(HEAD + "".join(openings) + inner + "".join(CLOSINGS.get(o, " }") for o in reversed(openings)) + "\n")


@FAST
@given(st.integers(1, 6000), st.sampled_from(["conv N 3x3", "input Nx8x8", "conv 3 3xN", "repeat N { relu }",
                                               "dropout 0.N", "conv 3 3x3 stride=N", "dropout N.5e3"]))
def test_huge_literals(digits, template):
    check(HEAD + template.replace("N", "9" * digits) + "\n")


@FAST
@given(st.lists(st.sampled_from(TOKENS + ["relu;", "a: relu;", "relu; relu;"]), max_size=60),
       st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())
def test_line_endings_and_a_byte_order_mark(tokens, ending, bom):
    text = ("\ufeff" if bom else "") + ending.join(["network T", "input 3x8x8"] + " ".join(tokens).split("\n"))
    check(text)


HEAVY = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HEAVY
@given(st.integers(1, 30000), st.sampled_from(["relu; ", "a: relu; ", "conv 2 1x1; ", "x" * 50 + " ", "#",
                                                "conv 2 1x1 stride=1 pad=0; "]))
def test_long_lines(count, piece):
    check(HEAD + "block b() { " + piece * count + "\n}\nb()\n")
    check(HEAD + "repeat " + str(count) + " { a: relu }\n")


@HEAVY
@given(st.integers(1, 2000), st.integers(1, 2000), st.integers(1, 5))
def test_expansion_is_bounded_before_it_runs(outer, inner, depth):
    body = "conv 3 1x1"
    for _ in range(depth):
        body = f"repeat {inner} {{ {body} }}"
    check(HEAD + f"repeat {outer} {{ {body} }}\n")
