"""The errors cnndsl raises for anything a user did, rendered like a compiler's messages.

    resnet.cnn:14:3: residual: the body gives 128×28×28 but the skip carries 64×56×56
       14 |   residual {
          |   ^~~~~~~~
    hint: add `shortcut { conv 128 1x1 stride=2 }` to project the skip

CnnError is the base; CnnSyntaxError (the text does not parse), CnnNameError (an unknown layer, block,
label or name), CnnArgumentError (a missing, unknown or ill-typed argument), CnnShapeError (a shape
that does not fit), CnnExpectationError (an `expect` that does not hold) and CnnResourceError (a limit:
size, nesting, memory) say which kind. CnnErrors carries every independent error of one file
(`.errors`), reported at once.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable


@dataclass(frozen=True)
class Source:
    """A named piece of .cnn text, kept so that errors can quote the offending line."""

    name: str
    text: str = field(repr=False)

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def line(self, number: int) -> str:
        return self.lines[number - 1] if 1 <= number <= len(self.lines) else ""


@dataclass(frozen=True)
class SourcePosition:
    """Where a statement or token starts (1-based line and column) and, when known, where it ends
    (end_column: the column just after its last character)."""

    source: Source = field(compare=False, repr=False)
    line: int
    column: int
    end_line: int | None = field(default=None, compare=False)
    end_column: int | None = field(default=None, compare=False)

    @property
    def width(self) -> int:
        """How many columns of its first line the span covers (1 without an end)."""
        if self.end_column is None or self.end_line is None:
            return 1
        if self.end_line != self.line:
            return max(len(self.source.line(self.line)) - self.column + 1, 1)
        return max(self.end_column - self.column, 1)

    @property
    def file(self) -> str:
        return self.source.name

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class CnnError(Exception):
    """A user error: bad .cnn text, a shape that does not fit, a bad argument or file.

    `str(error)` is the full rendered message; `.message`, `.pos` and `.hint` are the parts.
    """

    def __init__(self, message: str, pos: SourcePosition | None = None, hint: str | None = None):
        message = _LONG_WORD.sub(lambda m: clip(m.group(), WORD_WIDTH), message)
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.hint = hint

    @property
    def line(self) -> int | None:
        return self.pos.line if self.pos else None

    kind = "error"

    def __str__(self) -> str:
        if self.pos is None:
            text = f"{self.kind}: {self.message}"
        else:
            text = f"{self.pos}: {self.message}" if self.kind == "error" else f"{self.pos}: {self.kind}: {self.message}"
            quoted, column = window(self.pos.source.line(self.pos.line).rstrip("\n").expandtabs(1), self.pos.column)
            if quoted.strip():
                gutter = " " * len(str(self.pos.line))
                under = max(1, min(self.pos.width, len(quoted) - column + 1))
                caret = " " * max(column - 1, 0) + "^" + "~" * (under - 1)
                text += f"\n {self.pos.line} | {quoted}\n {gutter} | {caret}"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


WORD_WIDTH = 300   # no message echoes a longer run of text (a whole file pasted as a name, say)
_LONG_WORD = re.compile(r"\S{%d,}" % (WORD_WIDTH + 1))
class CnnSyntaxError(CnnError):
    """The text does not parse: an unexpected character or token, a missing brace."""


class CnnNameError(CnnError):
    """An unknown layer, block, label or name."""


class CnnArgumentError(CnnError):
    """A missing, unknown, repeated or ill-typed argument or option."""


class CnnShapeError(CnnError):
    """A tensor's shape does not fit the layer or merge that reads it."""


class CnnExpectationError(CnnError):
    """An `expect` statement's value differs from what the network has there."""


class CnnResourceError(CnnError):
    """Beyond a limit: the file's size, nesting, the number of layers, the memory available."""


class CnnErrors(CnnError):
    """Several independent errors of one file, in the order they were found; behaves as the first."""

    def __init__(self, errors: list[CnnError]):
        first = errors[0]
        super().__init__(first.message, first.pos, first.hint)
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(CnnError.__str__(e) for e in self.errors) + f"\n{len(self.errors)} errors"


class CnnNote(CnnError):
    """Not an error: something a careful reader of the file would want to know, with its place."""

    kind = "note"


QUOTE_WIDTH = 100  # characters of a source line quoted around the error
NAME_WIDTH = 40    # characters of a user's name echoed in a message


def window(line: str, column: int, width: int = QUOTE_WIDTH) -> tuple[str, int]:
    """At most `width` characters of a (possibly very long) line around `column`, marked with '…'
    where cut, and the column within the cut text."""
    if len(line) <= width:
        return line, column
    start = max(0, min(column - 1 - width // 3, len(line) - width))
    cut = line[start:start + width]
    if start > 0:
        cut, column = "…" + cut[1:], column - start
    if start + width < len(line):
        cut = cut[:-1] + "…"
    return cut, column


def clip(name: str, width: int = NAME_WIDTH) -> str:
    """A user's name as a message echoes it: cut to `width` characters."""
    return name if len(name) <= width else name[:width - 1] + "…"


def suggest(word: str, known: Iterable[str]) -> str:
    """' — did you mean 'x'?' for the nearest known name, or ''."""
    if len(word) > 2 * NAME_WIDTH:  # nothing known is that long; difflib would take a while to say so
        return ""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""
