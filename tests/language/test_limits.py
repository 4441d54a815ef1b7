"""Pathological programs (found by fuzzing) end in a located error or a result, fast — never in a
RecursionError, a conversion error or seconds of work."""

import time

import pytest

import cnndsl
from cnndsl.errors import CnnError

HEAD = "network A\ninput 1x8x8\n"


def build(text: str, filename: str = "t.cnn"):
    return cnndsl.parse(text, filename)


def error_of(text: str) -> CnnError:
    with pytest.raises(CnnError) as info:
        build(text)
    return info.value


def cpu_seconds(fn, best_of: int = 1) -> float:
    """CPU seconds of fn(), the least of best_of runs: a virtual machine's host can stall a process for
    seconds that it counts as the process's own (a CI dry run saw one build take 2.1 s, 1.2 s otherwise)."""
    times = []
    for _ in range(best_of):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


@pytest.mark.parametrize("text, line, column", [
    (HEAD + "conv " + "9" * 5000 + " 3x3\n", 3, 6),
    ("network A\ninput " + "9" * 5000 + "x8x8\nrelu\n", 2, 7),
    ("network A\ninput 1x8x" + "9" * 5000 + "\nrelu\n", 2, 7),
    (HEAD + "conv 4 3x" + "9" * 5000 + "\n", 3, 8),
    (HEAD + "dropout " + "9" * 400 + ".5\n", 3, 9),
])
def test_a_huge_literal_is_a_located_error(text, line, column):
    error = error_of(text)
    assert "number too large" in error.message
    assert (error.pos.line, error.pos.column) == (line, column)
    assert len(str(error)) < 600  # the literal is not echoed in full


@pytest.mark.parametrize("opening, closing", [
    ("concat { branch { ", " } }"),
    ("residual { ", " }"),
    ("repeat 1 { ", " }"),
    ("aux { ", " }"),
])
def test_deep_nesting_is_a_located_error(opening, closing):
    error = error_of(HEAD + opening * 200 + "relu" + closing * 200 + "\n")
    assert "nested too deeply" in error.message and error.pos.line == 3


def test_a_long_expression_is_a_located_error():
    error = error_of(HEAD + "conv " + "+".join(["1"] * 600) + " 3x3\n")
    assert "nested too deeply" in error.message and (error.pos.line, error.pos.column) == (3, 6)


def test_moderate_nesting_still_works():
    net = build(HEAD + "residual { " * 20 + "relu" + " }" * 20 + "\n")
    assert len(net.layers) == 21  # the relu and one add per residual
    assert build(HEAD + "conv " + "+".join(["1"] * 50) + " 3x3\n").graph.nodes["conv1"]["node"].shape[0] == 50


def test_a_long_chain_of_blocks_is_a_located_error():
    blocks = "block b0() { relu }\n" + "".join(f"block b{i}() {{ b{i - 1}() }}\n" for i in range(1, 400))
    error = error_of(HEAD + blocks + "b399()\n")
    assert "nested too deeply" in error.message


def test_a_runaway_repeat_is_refused_before_it_runs():
    text = HEAD + "repeat 1000 { repeat 1000 { conv 3 1x1 } }\n"
    seconds = cpu_seconds(lambda: error_of(text))
    error = error_of(text)
    assert "100,000 layers" in error.message and (error.pos.line, error.pos.column) == (3, 8)
    assert seconds < 0.2


@pytest.mark.parametrize("levels", [20, 60])
def test_a_runaway_block_fan_out_is_refused_before_it_runs(levels):
    # 2^levels layers: a block called twice with the same arguments is sized once, so refusing is linear
    blocks = "block b0() { relu; relu }\n" + "".join(f"block b{i}() {{ b{i - 1}(); b{i - 1}() }}\n"
                                                   for i in range(1, levels))
    text = HEAD + blocks + f"b{levels - 1}()\n"
    error_of(text)  # the grammar and imports loaded first, not timed
    assert cpu_seconds(lambda: error_of(text)) < 0.1
    error = error_of(text)
    assert "more than 100,000 layers" in error.message and error.pos.line == 3 + levels


def test_blocks_with_different_arguments_are_each_sized():
    text = HEAD + "block b(n) { repeat n { relu } }\nblock c(n) { b(n) }\nc(10)\nc(99995)\n"
    error = error_of(text)  # refused at the second call, not found later while expanding the repeat (line 3)
    assert error.message == "c(…) would make more than 100,000 layers" and error.pos.line == 6


def test_block_parameters_size_a_repeat():
    text = HEAD + "block b(n) { repeat n { relu } }\nb(200000)\n"
    assert "100,000 layers" in error_of(text).message


def timed_build(text: str):
    start = time.process_time()
    net = build(text)
    return net, time.process_time() - start


def test_a_hundred_thousand_layers_build_and_summarize_in_linear_time():
    """Five times the layers takes about five times as long (a quadratic step would take 25), and
    100,000 layers stay within seconds on any machine."""
    small, t_small = timed_build(HEAD + "repeat 20000 { relu }\n")
    net, seconds = timed_build(HEAD + "repeat 99999 { relu }\n")
    assert len(net.layers) == 99_999 and seconds < 5
    assert seconds < 20 * max(t_small, 0.01)
    for view in ("summary", "to_dict"):
        t_small, t_large = cpu_seconds(getattr(small, view)), cpu_seconds(getattr(net, view))
        assert t_large < 5 and t_large < 20 * max(t_small, 0.01), view


def test_many_statements_on_one_line_are_linear():
    small = cpu_seconds(lambda: build(HEAD + "block b() { " + "relu; " * 2000 + "}\nb()\n"), best_of=2)
    large = cpu_seconds(lambda: build(HEAD + "block b() { " + "relu; " * 20000 + "}\nb()\n"), best_of=2)
    assert large < 5 and large < 20 * max(small, 0.01)


def test_labels_inside_a_repeat_are_linear():
    _, small = timed_build(HEAD + "repeat 1600 { a: relu }\n")
    net, seconds = timed_build(HEAD + "repeat 16000 { a: relu }\n")
    assert seconds < 5 and seconds < 20 * max(small, 0.01)
    assert net.layers[:3] == ["a", "a_2", "a_3"] and net.layers[-1] == "a_16000"


@pytest.mark.parametrize("ending", ["\r\n", "\r", "\n"])
def test_every_line_ending_quotes_the_right_line(ending):
    text = ending.join(["network A", "input 1x8x8", "conv 4 3x3", "foo 3", ""])
    error = error_of(text)
    assert (error.pos.line, error.pos.column) == (4, 1)
    assert " 4 | foo 3" in str(error)


def test_a_byte_order_mark_is_accepted():
    assert build("\ufeff" + HEAD + "relu\n").layers == ["relu1"]


def test_non_utf8_bytes_are_located(tmp_path):
    path = tmp_path / "latin.cnn"
    path.write_bytes(b"network A\r\ninput 1x8x8\r\nrelu # caf\xe9\r\n")
    with pytest.raises(CnnError) as info:
        cnndsl.load(path)
    assert "not UTF-8" in info.value.message
    assert (info.value.pos.line, info.value.pos.column) == (3, 11)


def test_long_names_are_cut_in_messages():
    error = error_of(HEAD + "q" * 100_000 + " 3\n")
    assert "unknown layer" in error.message and len(str(error)) < 800
    error = error_of(HEAD + "relu\nadd @" + "z" * 100_000 + "\n")
    assert "unknown label" in error.message and len(str(error)) < 800


def test_an_unknown_layer_with_no_close_match_lists_the_known_ones():
    message = error_of(HEAD + "zzzzqqq 3\n").message
    assert "conv" in message and "maxpool" in message and "dense" in message


def test_a_long_line_is_quoted_around_the_error():
    error = error_of(HEAD + "relu; " * 500 + "foo\n")
    quoted = str(error).splitlines()[1:3]
    assert all(len(line) < 120 for line in quoted)
    assert quoted[0].index("foo") == quoted[1].index("^")


def test_a_name_that_is_a_file_in_the_folder_is_suggested(tmp_path, monkeypatch):
    (tmp_path / "mynet.cnn").write_text(HEAD + "relu\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CnnError) as info:
        cnndsl.load("mynet")
    assert "mynet.cnn" in info.value.hint


def test_special_files_are_refused(tmp_path):
    with pytest.raises(CnnError, match="not a regular file"):
        cnndsl.load("/dev/zero")


def test_a_file_beyond_the_size_limit_is_refused_at_once():
    from cnndsl.language.parser import MAX_CHARS
    text = HEAD + "block b() { " + "conv 2 1x1; " * (MAX_CHARS // 12 + 1) + "}\nb()\n"
    assert cpu_seconds(lambda: error_of(text)) < 0.1
    assert "a .cnn file is at most 131,072" in error_of(text).message
