"""The parser: every construct of the language (docs/language.md) reaches the AST with its positions."""

from cnndsl.language import ast
from cnndsl.language.parser import parse

from ..conftest import error_of


def body(text: str):
    return parse("network T\ninput 3x8x8\n" + text, "t.cnn").body


def test_header_and_positions():
    program = parse("network LeNet5   # comment\ninput 1x32x32\nconv 6 5x5\n", "x.cnn")
    assert program.name == "LeNet5" and program.input_shape == (1, 32, 32)
    layer = program.body[0]
    assert isinstance(layer, ast.Layer) and (layer.pos.line, layer.pos.column, layer.pos.file) == (3, 1, "x.cnn")


def test_layer_positional_options_and_sizes():
    (layer,) = body("conv 64 3x3 stride=2 pad=same bias=false")
    assert layer.op == "conv"
    assert isinstance(layer.args[0], ast.Num) and layer.args[0].value == 64
    assert isinstance(layer.args[1], ast.Size) and (layer.args[1].h, layer.args[1].w) == (3, 3)
    assert [o.key for o in layer.options] == ["stride", "pad", "bias"]
    assert isinstance(layer.options[1].value, ast.Name) and layer.options[1].value.id == "same"


def test_numbers_int_float_exponent():
    (layer,) = body("lrn alpha=1e-4 beta=0.75 size=5")
    values = [o.value.value for o in layer.options]
    assert values == [1e-4, 0.75, 5] and isinstance(values[2], int)


def test_semicolons_newlines_comments_and_blank_lines():
    stmts = body("conv 6 5x5; tanh   # two on a line\n\n# a comment line\n;;avgpool 2x2\n")
    assert [s.op for s in stmts] == ["conv", "tanh", "avgpool"]


def test_block_definition_defaults_and_calls():
    program = parse("network T\ninput 3x8x8\nblock b(c, k=3) {\n  conv c k\n}\nx: b(4, k=1)\nb(c=2)\n", "t")
    (block,) = program.blocks
    assert block.name == "b" and [p.name for p in block.params] == ["c", "k"] and block.params[1].default.value == 3
    call1, call2 = program.body
    assert call1.label == "x" and len(call1.args) == 1 and call1.kwargs[0].key == "k"
    assert call2.kwargs[0].key == "c"


def test_block_without_parameters_and_multiline_arguments():
    program = parse("network T\ninput 3x8x8\nblock stem() { relu }\nstem()\nblock p(a,\n  b) { conv a b }\np(1,\n 3)\n", "t")
    assert [b.name for b in program.blocks] == ["stem", "p"]
    assert isinstance(program.body[0], ast.Call) and program.body[0].args == ()


def test_expressions_precedence_and_parentheses():
    program = parse("network T\ninput 3x8x8\nblock b(c) { conv c*4+1 1x1; conv (c//2) 3x3 }\nb(8)\n", "t")
    first, second = program.blocks[0].body
    e = first.args[0]
    assert isinstance(e, ast.BinOp) and e.op == "+" and e.left.op == "*"
    assert isinstance(second.args[0], ast.BinOp) and second.args[0].op == "//"
    assert isinstance(second.args[1], ast.Size)


def test_repeat_concat_add_branches_and_empty_branch():
    rep, cat, add = body("repeat 2 { relu }\nconcat { branch {} branch { conv 4 1 } }\n"
                         "add {\n  branch { relu }\n  branch { }\n}")
    assert isinstance(rep, ast.Repeat) and rep.count.value == 2
    assert isinstance(cat, ast.Merge) and cat.kind == "concat" and cat.branches[0].body == ()
    assert add.kind == "add" and len(add.branches) == 2


def test_residual_with_shortcut_same_line_and_next_line():
    a, b, c = body("residual { relu } shortcut { conv 3 1 }\nresidual { relu }\nshortcut { relu }\nresidual { relu }")
    assert a.shortcut and b.shortcut and c.shortcut is None
    assert b.shortcut_pos.line == 5


def test_labels_refs_from_and_aux():
    a, m, f, x = body("a: conv 3 3 pad=1\nc: add @a @a\nfrom @a\naux weight=0.5 { gap; flatten; dense 2 }")
    assert a.label == "a" and m.label == "c" and [r.name for r in m.refs] == ["a", "a"]
    assert isinstance(f, ast.From) and f.ref.name == "a"
    assert isinstance(x, ast.Aux) and x.options[0].value.value == 0.5 and len(x.body) == 3


def test_alias_names_are_kept_for_the_expander():
    (dense,) = body("fc 10")
    assert dense.op == "fc"


def test_syntax_errors_name_line_column_and_expectation():
    e = error_of("network T\ninput 3x8x8\nconv 8 3x3 stride=\n")
    assert (e.pos.line, e.pos.column) == (3, 19) and "expected" in e.message
    e = error_of("network T\ninput 3x8x8\nconcat { conv 3 3 }\n")
    assert e.pos.line == 3 and "branch" in e.message
    e = error_of("network T\ninput 3x8x8\nrelu }\n")
    assert e.pos.line == 3 and "'}'" in e.message


def test_positional_after_option_is_an_error():
    e = error_of("network T\ninput 3x8x8\nconv 8 stride=2 3x3\n")
    assert e.pos.line == 3 and "positional" in e.message


def test_rendered_error_quotes_the_line_with_a_caret():
    text = str(error_of("network T\ninput 3x8x8\n  cnov 8 3x3\n", "net.cnn"))
    assert text.splitlines() == [
        "net.cnn:3:3: unknown layer 'cnov' — did you mean 'conv'?",
        " 3 |   cnov 8 3x3",
        "   |   ^~~~",  # the whole token underlined
    ]


def test_errors_have_a_kind_and_a_span():
    from cnndsl.errors import (CnnArgumentError, CnnNameError, CnnResourceError, CnnShapeError,
                               CnnSyntaxError)
    cases = [
        ("conv 8 3x3 {", CnnSyntaxError, (3, 12, 13)),
        ("cnov 8 3x3", CnnNameError, (3, 1, 5)),
        ("conv 8 3x3 strid=2", CnnArgumentError, (3, 12, 17)),
        ("flatten\nconv 8 3x3", CnnShapeError, (4, 1, None)),
        ("conv " + "9" * 100 + " 3x3", CnnResourceError, (3, 6, 106)),
    ]
    for body, kind, (line, column, end) in cases:
        error = error_of("network T\ninput 3x8x8\n" + body + "\n")
        assert type(error) is kind, body
        assert (error.pos.line, error.pos.column) == (line, column), body
        if end is not None:
            assert error.pos.end_column == end, body


def test_independent_errors_are_reported_together_and_consequences_are_not():
    from cnndsl.errors import CnnErrors, CnnNameError
    text = ("network T\ninput 3x8x8\nconv 8 3x3 strid=1\nconcat {\n  branch { cnov 4 1x1 }\n"
            "  branch { conv 4 1x1 bais=false }\n}\ndense 10\n")
    error = error_of(text)
    assert isinstance(error, CnnErrors) and [e.pos.line for e in error.errors] == [3, 5, 6]
    assert isinstance(error.errors[1], CnnNameError) and error.pos.line == 3  # behaves as the first
    assert str(error).endswith("3 errors") and "dense" not in str(error)  # dense 10's shape error follows
    # a block called twice reports its mistake once
    twice = error_of("network T\ninput 3x8x8\nblock b() { relu; cnov 3 1x1 }\nb()\nb()\n")
    assert not isinstance(twice, CnnErrors) and twice.pos.line == 3
