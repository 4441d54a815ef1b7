"""The abstract syntax of a .cnn file: frozen dataclasses, each carrying its source position.

Expressions stay unevaluated here: block parameters are bound only when a block is expanded.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SourcePosition


# ---- expressions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Num:
    value: int | float
    pos: SourcePosition


@dataclass(frozen=True)
class Name:
    id: str
    pos: SourcePosition


@dataclass(frozen=True)
class Size:
    h: int
    w: int
    pos: SourcePosition


@dataclass(frozen=True)
class BinOp:
    op: str  # one of + - * //
    left: "Expr"
    right: "Expr"
    pos: SourcePosition


@dataclass(frozen=True)
class Neg:
    operand: "Expr"
    pos: SourcePosition


Expr = Num | Name | Size | BinOp | Neg


@dataclass(frozen=True)
class Option:
    key: str
    value: Expr
    pos: SourcePosition


# ---- statements ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Network:
    name: str
    pos: SourcePosition
    label: str | None = None


@dataclass(frozen=True)
class Input:
    shape: tuple[int, int, int]
    pos: SourcePosition
    label: str | None = None


@dataclass(frozen=True)
class Layer:
    op: str
    args: tuple[Expr, ...]
    options: tuple[Option, ...]
    pos: SourcePosition
    label: str | None = None


@dataclass(frozen=True)
class Param:
    name: str
    default: Expr | None
    pos: SourcePosition


@dataclass(frozen=True)
class BlockDef:
    name: str
    params: tuple[Param, ...]
    body: tuple["Stmt", ...]
    pos: SourcePosition
    label: str | None = None


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    kwargs: tuple[Option, ...]
    pos: SourcePosition
    label: str | None = None


@dataclass(frozen=True)
class Repeat:
    count: Expr
    body: tuple["Stmt", ...]
    pos: SourcePosition
    label: str | None = None


@dataclass(frozen=True)
class Branch:
    body: tuple["Stmt", ...]
    pos: SourcePosition


@dataclass(frozen=True)
class Merge:
    kind: str  # "concat" | "add"
    branches: tuple[Branch, ...]
    pos: SourcePosition
    label: str | None = None


@dataclass(frozen=True)
class Ref:
    name: str
    pos: SourcePosition


@dataclass(frozen=True)
class RefMerge:
    kind: str  # "concat" | "add"
    refs: tuple[Ref, ...]
    pos: SourcePosition
    label: str | None = None


@dataclass(frozen=True)
class Residual:
    body: tuple["Stmt", ...]
    shortcut: tuple["Stmt", ...] | None
    pos: SourcePosition
    shortcut_pos: SourcePosition | None = None
    label: str | None = None


@dataclass(frozen=True)
class Shortcut:
    """A `shortcut { }` on a line of its own; the parser attaches it to the residual before it."""

    body: tuple["Stmt", ...]
    pos: SourcePosition
    label: str | None = None


@dataclass(frozen=True)
class From:
    ref: Ref
    pos: SourcePosition
    label: str | None = None


@dataclass(frozen=True)
class Aux:
    options: tuple[Option, ...]
    body: tuple["Stmt", ...]
    pos: SourcePosition
    label: str | None = None


@dataclass(frozen=True)
class ShapeValue:
    """A CxHxW literal, as an expectation's value (expect shape=16x5x5)."""

    dims: tuple[int, ...]
    pos: SourcePosition


@dataclass(frozen=True)
class Expect:
    """`expect shape=16x5x5 params=61706`: checked where it stands (see docs/language.md)."""

    items: tuple[Option, ...]
    pos: SourcePosition
    label: str | None = None


Stmt = (Network | Input | Layer | BlockDef | Call | Repeat | Merge | RefMerge | Residual | Shortcut | From | Aux
        | Expect)


@dataclass(frozen=True)
class Program:
    """A whole file: its header, its block definitions (in order) and its main body."""

    name: str
    input_shape: tuple[int, int, int]
    blocks: tuple[BlockDef, ...]
    body: tuple[Stmt, ...]
    pos: SourcePosition
