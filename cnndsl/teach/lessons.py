"""`cnndsl lessons --build`: the lessons of docs/lessons/ made from their sources.

Each lesson's source (DIR/src/NN-name.md) is Markdown whose ```console blocks hold `$ cnndsl …` commands.
Building runs every command in DIR (so `-o figures/x.png` writes the lesson's figure) and writes
DIR/NN-name.md: the source with each command followed by what it printed. A command may end in
`# head N` to show only its first N lines, or in `# fails` when it is meant to fail (its error message
is shown). The tests rebuild each lesson and compare: a lesson whose numbers or figures no longer match
the code fails.

Commands that train (gradflow, race, train, show) print numbers that move a little from machine to machine;
the fast tests take their output from the built lesson, the slow ones run them again and compare the
numbers within a tolerance.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import CnnError
from ..files import write_text

FENCE = re.compile(r"^```console\n(.*?)^```\n", re.S | re.M)
MARK = re.compile(r"\s+#\s*(head\s+(\d+)|fails)\s*$")
TRAINING = ("gradflow", "race", "train", "show")  # commands whose numbers depend on floating-point order and the clock


@dataclass(frozen=True)
class Command:
    text: str  # as the lesson shows it, without its marker
    head: int | None  # `# head N`: show the first N lines
    fails: bool = False  # `# fails`: the command is meant to exit 1; its error message is shown

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text)

    @property
    def trains(self) -> bool:
        argv = self.argv
        return len(argv) > 1 and argv[1] in TRAINING


def commands(block: str) -> list[Command]:
    out = []
    for line in block.splitlines():
        if line.startswith("$ "):
            text = line[2:]
            m = MARK.search(text)
            head = int(m.group(2)) if m and m.group(2) else None
            out.append(Command(MARK.sub("", text), head, bool(m and m.group(1) == "fails")))
    return out


def run(command: Command, cwd: Path, timeout: float = 600) -> str:
    """What the command prints (stdout), cut to its head; a failing command is an error."""
    argv = command.argv
    if argv[0] != "cnndsl":
        raise CnnError(f"a lesson's console commands start with `cnndsl`, not {argv[0]!r}: {command.text}")
    done = subprocess.run([sys.executable, "-m", "cnndsl", *argv[1:]], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != (1 if command.fails else 0):
        raise CnnError(f"`{command.text}` exited {done.returncode} in {cwd}, expected {1 if command.fails else 0}:\n"
                       f"{done.stderr.strip()}")
    lines = (done.stderr if command.fails else done.stdout).rstrip("\n").splitlines()
    if command.head is not None and len(lines) > command.head:
        lines = lines[:command.head] + ["…"]
    return "\n".join(line.rstrip() for line in lines)


def render(source: str, output_of) -> str:
    """The lesson: each console block's commands followed by output_of(command)."""
    def block(match: re.Match) -> str:
        parts = []
        for command in commands(match.group(1)):
            out = output_of(command)
            parts.append(f"$ {command.text}" + (f"\n{out}" if out else ""))
        return "```console\n" + "\n\n".join(parts) + "\n```\n"
    return FENCE.sub(block, source)


def outputs_in(built: str) -> dict[str, str]:
    """The outputs a built lesson shows, by command text."""
    found = {}
    for match in FENCE.finditer(built):
        current, lines = None, []
        for line in match.group(1).splitlines() + ["$ "]:
            if line.startswith("$ "):
                if current is not None:
                    found[current] = "\n".join(lines).strip("\n")
                current, lines = line[2:], []
            else:
                lines.append(line)
    return found


def sources(folder: Path) -> list[Path]:
    found = sorted((folder / "src").glob("[0-9][0-9]-*.md"))
    if not found:
        raise CnnError(f"no lesson sources in {folder / 'src'}", hint="lessons are src/NN-name.md files")
    return found


def build(folder: Path, only: list[str] | None = None, log=print) -> dict[str, float]:
    """Build every lesson (or those whose name starts with one of `only`); → seconds per lesson."""
    folder = Path(folder)
    (folder / "figures").mkdir(exist_ok=True)
    times = {}
    for src in sources(folder):
        if only and not any(src.stem.startswith(o) for o in only):
            continue
        start = time.perf_counter()
        text = render(src.read_text(), lambda c: run(c, folder))
        write_text(folder / src.name, text)
        times[src.stem] = time.perf_counter() - start
        log(f"built {folder / src.name} in {times[src.stem]:.1f} s")
    return times
