"""Text → AST: the lark LALR parser, a Transformer to the dataclasses of ast.py, and the translation
of lark's exceptions into CnnError (file:line:col, the quoted line, what was expected)."""

from __future__ import annotations

import functools
import math
from dataclasses import replace

from lark import Lark, Token, Transformer_NonRecursive, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from ..errors import CnnError, CnnResourceError, CnnSyntaxError, Source, SourcePosition, clip
from ..resources import grammar_path
from . import ast

# How lark's terminal names read in "expected ..." messages.
_TERMINALS = {
    "NAME": "a name",
    "CALL_NAME": "a block call like name(...)",
    "NUMBER": "a number",
    "SIZE": "a size like 3x3",
    "SHAPE": "a shape like 3x224x224",
    "_SEP": "a new line or ';'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "EQUAL": "'='",
    "COLON": "':'",
    "AT": "'@'",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "__ANON_0": "'//'",
    "$END": "the end of the file",
}


@functools.cache
def _lark() -> Lark:
    # cache=True keeps the compiled LALR tables in the temporary folder (keyed by the grammar's hash):
    # 0.15 s off every start-up. Lark goes on without the cache when the folder is not writable.
    return Lark(grammar_path().read_text(), parser="lalr", propagate_positions=True, maybe_placeholders=True,
                cache=True)


# Limits that keep every later pass (the expander, the evaluator) far from Python's recursion limit.
MAX_NESTING = 32      # braces inside braces: real networks nest 3–5 deep
MAX_EXPR_DEPTH = 64   # operators inside operators in one expression
MAX_DIGITS = 40       # a whole number with more digits than this cannot size anything
MAX_CHARS = 1 << 17   # 128 K characters: ~50× the largest classic network; parsing it takes under a second


def normalize(text: str) -> str:
    """One line ending, `\\n`, whatever the file used (`\\r\\n`, a lone `\\r`), and no byte-order mark:
    lines are then counted and quoted the same way everywhere."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def parse(text: str, filename: str = "<string>") -> ast.Program:
    """Parse .cnn text into a Program. Raises CnnError for anything malformed."""
    if len(text) > MAX_CHARS:
        raise CnnResourceError(f"{filename} has {len(text):,} characters; a .cnn file is at most {MAX_CHARS:,}",
                       hint="write repeated layers with `repeat N { … }` or a `block`")
    text = normalize(text)
    source = Source(filename, text)
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(e, source) from None
    _check_depth(tree, source)
    try:
        stmts = _ToAst(source).transform(tree)
    except VisitError as e:
        if isinstance(e.orig_exc, CnnError):
            raise e.orig_exc from None
        raise
    return _program(stmts or (), source)


_BRACES = {"body", "merge"}
_OPERATORS = {"plus", "minus", "times", "floordiv", "neg"}


def _check_depth(tree: Tree, source: Source) -> None:
    """Refuse, at the place where it happens, nesting deeper than the limits (iteratively: the tree
    of a pathological file is itself too deep for recursion)."""
    stack = [(tree, 0, 0)]
    while stack:
        node, braces, ops = stack.pop()
        if node.data in _BRACES:
            braces += 1
            if braces > MAX_NESTING:
                raise CnnResourceError(f"braces nested too deeply (more than {MAX_NESTING} levels)", _pos(source, node.meta),
                               "flatten the structure, or define a `block` and call it")
        elif node.data in _OPERATORS:
            ops += 1
            if ops > MAX_EXPR_DEPTH:
                raise CnnResourceError(f"expression nested too deeply (more than {MAX_EXPR_DEPTH} operators)",
                               _pos(source, node.meta), "write the value as one number")
        else:
            ops = 0
        stack.extend((child, braces, ops) for child in node.children if isinstance(child, Tree))


# ---- lark exceptions → CnnError ------------------------------------------------------------------

def _describe(expected: set[str]) -> str:
    names = sorted({_TERMINALS.get(t, _literal(t)) for t in expected})
    if len(names) > 6:
        names = names[:6] + ["…"]
    return ", ".join(names)


def _literal(terminal: str) -> str:
    pattern = _lark().get_terminal(terminal).pattern if terminal in _terminal_names() else None
    if pattern is not None and pattern.type == "str":
        return f"'{pattern.value}'"
    return terminal.lower()


@functools.cache
def _terminal_names() -> frozenset[str]:
    return frozenset(t.name for t in _lark().terminals)


def _token_text(token: Token) -> str:
    if token.type == "_SEP":
        return "end of line" if "\n" in token or token.startswith("#") else "';'"
    if token.type == "$END":
        return "end of file"
    return f"'{clip(str(token))}'"


def _syntax_error(e: UnexpectedInput, source: Source) -> CnnError:
    line, column = e.line, e.column
    if isinstance(e, UnexpectedCharacters):
        char = source.text[e.pos_in_stream] if e.pos_in_stream < len(source.text) else "?"
        pos = SourcePosition(source, line, column)
        return CnnSyntaxError(f"unexpected character {char!r}", pos, _hint_for_char(char))
    if isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END"):
        lines = source.text.rstrip().splitlines() or [""]
        pos = SourcePosition(source, len(lines), len(lines[-1]) + 1)
        expected = getattr(e, "expected", None) or getattr(e, "accepts", None) or set()
        return CnnSyntaxError(f"unexpected end of file; expected {_describe(set(expected))}", pos,
                        "is a '}' or ')' missing?" if "RBRACE" in expected or "RPAR" in expected else None)
    assert isinstance(e, UnexpectedToken)
    token = e.token
    if line is None or line < 0:
        line, column = 1, 1
    pos = SourcePosition(source, line, column, getattr(token, "end_line", None), getattr(token, "end_column", None))
    expected = set(e.accepts or e.expected)
    hint = None
    if token.type == "SHAPE":
        hint = "a CxHxW shape is only for `input`; a kernel size is HxW, like 3x3"
    elif token.type == "_SEP" and "RBRACE" in expected:
        hint = "is a '}' missing?"
    elif token.type == "CALL_NAME" and "NAME" in expected:
        hint = "a block call stands on its own line; options are written key=value"
    elif token.type == "RBRACE" and "$END" in expected:
        hint = "this '}' closes nothing"
    return CnnSyntaxError(f"unexpected {_token_text(token)}; expected {_describe(expected)}", pos, hint)


def _hint_for_char(char: str) -> str | None:
    if char == "×":
        return "write sizes with a plain 'x', like 3x3"
    if char in "\"'":
        return "cnndsl has no strings; names are written bare"
    if char == "/":
        return "integer division is '//'"
    return None


# ---- parse tree → AST ----------------------------------------------------------------------------

def _pos(source: Source, meta_or_token) -> SourcePosition:
    """The span of a rule (its meta) or a token, start to end."""
    return SourcePosition(source, getattr(meta_or_token, "line", 1), getattr(meta_or_token, "column", 1),
                          getattr(meta_or_token, "end_line", None), getattr(meta_or_token, "end_column", None))


@v_args(meta=True)
class _ToAst(Transformer_NonRecursive):
    def __init__(self, source: Source):
        super().__init__()
        self.source = source

    def p(self, meta) -> SourcePosition:
        return _pos(self.source, meta)

    # structure
    def start(self, meta, children):
        return children[0]

    def stmts(self, meta, children):
        return _attach_shortcuts(tuple(children))

    def body(self, meta, children):
        return children[0] or ()

    def labeled(self, meta, children):
        name, stmt = children
        if isinstance(stmt, (ast.Network, ast.Input, ast.BlockDef, ast.Shortcut)):
            raise CnnSyntaxError(f"a label cannot name `{type(stmt).__name__.lower()}`", self.p(meta),
                           "labels name layers, block instances and merges")
        if isinstance(stmt, ast.From):
            raise CnnSyntaxError("a label cannot name `from`", self.p(meta), "label the statement that `from` reads")
        if isinstance(stmt, ast.Expect):
            raise CnnSyntaxError("a label cannot name `expect`", self.p(meta), "label the statement before it")
        return replace(stmt, label=str(name))

    # header
    def network(self, meta, children):
        return ast.Network(str(children[0]), self.p(meta))

    def input(self, meta, children):
        c, h, w = (_whole(v, children[0], self.source) for v in str(children[0]).split("x"))
        return ast.Input((c, h, w), self.p(meta))

    # blocks
    def blockdef(self, meta, children):
        name, params, body = children
        return ast.BlockDef(str(name)[:-1], tuple(params or ()), body, self.p(meta))

    def params(self, meta, children):
        return tuple(children)

    def param(self, meta, children):
        name, default = children
        return ast.Param(str(name), default, self.p(meta))

    def call(self, meta, children):
        name, args = children
        positional, keywords = _split_args(args or (), f"{str(name)[:-1]}(...)")
        return ast.Call(str(name)[:-1], positional, keywords, self.p(meta))

    def args(self, meta, children):
        return tuple(children)

    # layers
    def layer(self, meta, children):
        name, *items = children
        args, options = _split_args(items, str(name))
        return ast.Layer(str(name), args, options, _pos(self.source, name))

    def option(self, meta, children):
        key, value = children
        return ast.Option(str(key), value, _pos(self.source, key))

    # control
    def repeat(self, meta, children):
        count, body = children
        return ast.Repeat(count, body, self.p(meta))

    def merge(self, meta, children):
        kind, *branches = children
        if not branches:
            raise CnnSyntaxError(f"`{kind}` needs at least one `branch {{ }}`", self.p(meta))
        return ast.Merge(kind, tuple(branches), self.p(meta))

    def merge_kind(self, meta, children):
        return str(children[0])

    def branch(self, meta, children):
        return ast.Branch(children[0], self.p(meta))

    def refmerge(self, meta, children):
        kind, *refs = children
        return ast.RefMerge(kind, tuple(refs), self.p(meta))

    def residual(self, meta, children):
        body, shortcut = children
        if shortcut is None:
            return ast.Residual(body, None, self.p(meta))
        return ast.Residual(body, shortcut.body, self.p(meta), shortcut.pos)

    def shortcut(self, meta, children):
        return ast.Shortcut(children[0], self.p(meta))

    def from_ref(self, meta, children):
        return ast.From(children[0], self.p(meta))

    def ref(self, meta, children):
        return ast.Ref(str(children[0]), self.p(meta))

    def aux(self, meta, children):
        *options, body = children
        return ast.Aux(tuple(options), body, self.p(meta))

    def expect(self, meta, children):
        return ast.Expect(tuple(children), self.p(meta))

    def expected(self, meta, children):
        key, value = children
        if isinstance(value, Token) and value.type == "SHAPE":
            value = ast.ShapeValue(tuple(_whole(v, value, self.source) for v in str(value).split("x")),
                                   _pos(self.source, value))
        return ast.Option(str(key), value, _pos(self.source, key))

    # expressions
    def number(self, meta, children):
        text = str(children[0])
        if any(c in text for c in ".eE"):
            value = float(text)
            if not math.isfinite(value):
                raise CnnResourceError(f"number too large: {clip(text, 20)} is beyond any network cnndsl can count or run",
                               self.p(meta))
        else:
            value = _whole(text, children[0], self.source)
        return ast.Num(value, self.p(meta))

    def name(self, meta, children):
        return ast.Name(str(children[0]), self.p(meta))

    def neg(self, meta, children):
        return ast.Neg(children[0], self.p(meta))

    def _bin(op):  # noqa: N805 - a small factory for the four operators, used only in this class body
        def method(self, meta, children):
            return ast.BinOp(op, children[0], children[1], self.p(meta))
        return method

    plus, minus, times, floordiv = _bin("+"), _bin("-"), _bin("*"), _bin("//")

    def __default_token__(self, token):
        if token.type == "SIZE":
            h, w = (_whole(v, token, self.source) for v in str(token).split("x"))
            return ast.Size(h, w, _pos(self.source, token))
        return token


def _whole(digits: str, token: Token, source: Source) -> int:
    """A literal whole number; one too long to mean anything is refused before Python converts it."""
    if len(digits.lstrip("0")) > MAX_DIGITS:
        raise CnnResourceError(f"number too large: {clip(digits, 20)} has {len(digits):,} digits, beyond any network "
                       "cnndsl can count or run", _pos(source, token), "sizes, channels and counts are at most 2147483647")
    return int(digits)


def _split_args(items, what: str) -> tuple[tuple, tuple]:
    """Positional arguments first, then key=value options; anything else is an error."""
    options = [i for i in items if isinstance(i, ast.Option)]
    args = [i for i in items if not isinstance(i, ast.Option)]
    if options and args and items.index(options[0]) < items.index(args[-1]):
        raise CnnSyntaxError(f"a positional argument follows a key=value option in `{what}`", args[-1].pos,
                       "write positional arguments first, then key=value options")
    return tuple(args), tuple(options)


def _attach_shortcuts(stmts: tuple) -> tuple:
    """`residual { } ⏎ shortcut { }`: a shortcut on its own line belongs to the residual before it."""
    out: list = []
    for stmt in stmts:
        if isinstance(stmt, ast.Shortcut):
            prev = out[-1] if out else None
            if not isinstance(prev, ast.Residual) or prev.shortcut is not None:
                raise CnnSyntaxError("`shortcut` must follow a `residual { }`", stmt.pos,
                               "write `residual { body } shortcut { projection }`")
            out[-1] = replace(prev, shortcut=stmt.body, shortcut_pos=stmt.pos)
        else:
            out.append(stmt)
    return tuple(out)


def _program(stmts: tuple, source: Source) -> ast.Program:
    """Check the file's header and split off the block definitions."""
    if not stmts or not isinstance(stmts[0], ast.Network):
        pos = stmts[0].pos if stmts else SourcePosition(source, 1, 1)
        raise CnnSyntaxError("a .cnn file must start with `network NAME`", pos, "add a first line like `network MyNet`")
    header, *rest = stmts
    input_shape, blocks, body = None, [], []
    for stmt in rest:
        if isinstance(stmt, ast.Network):
            raise CnnSyntaxError("`network` may appear only once, as the first statement", stmt.pos)
        if isinstance(stmt, ast.Input):
            if input_shape is not None:
                raise CnnSyntaxError("`input` may appear only once", stmt.pos)
            if body:
                raise CnnSyntaxError("`input` must come before the first layer", stmt.pos)
            if min(stmt.shape) < 1:
                raise CnnSyntaxError(f"input shape {'x'.join(map(str, stmt.shape))} has a zero dimension", stmt.pos)
            if max(stmt.shape) > 2**31 - 1:
                raise CnnResourceError(f"input shape {'x'.join(map(str, stmt.shape))} is too large", stmt.pos)
            input_shape = stmt.shape
        elif isinstance(stmt, ast.BlockDef):
            _check_nested(stmt.body)
            blocks.append(stmt)
        else:
            if input_shape is None:
                raise CnnSyntaxError("`input CxHxW` must come before the first layer", stmt.pos,
                               "add a line like `input 3x224x224` after `network`")
            _check_nested(_bodies(stmt))
            body.append(stmt)
    if input_shape is None:
        raise CnnSyntaxError("the network has no `input CxHxW` statement", header.pos,
                       "add a line like `input 3x224x224` after `network`")
    return ast.Program(header.name, input_shape, tuple(blocks), tuple(body), header.pos)


def _bodies(stmt) -> tuple:
    if isinstance(stmt, (ast.Repeat, ast.Aux, ast.BlockDef)):
        return stmt.body
    if isinstance(stmt, ast.Merge):
        return tuple(s for b in stmt.branches for s in b.body)
    if isinstance(stmt, ast.Residual):
        return stmt.body + (stmt.shortcut or ())
    return ()


def _check_nested(stmts: tuple) -> None:
    """Headers and block definitions belong at the top level of a file."""
    for stmt in stmts:
        if isinstance(stmt, (ast.Network, ast.Input)):
            raise CnnSyntaxError(f"`{type(stmt).__name__.lower()}` belongs at the top of the file, not inside braces",
                           stmt.pos)
        if isinstance(stmt, ast.BlockDef):
            raise CnnSyntaxError("blocks are defined at the top level of a file", stmt.pos,
                           "move this `block` out of the braces; blocks may use blocks defined before them")
        _check_nested(_bodies(stmt))
