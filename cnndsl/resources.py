"""Where the files that ship with cnndsl live: the grammar and the classic architectures.

In a checkout they sit at the top of the repository (grammars/, architectures/); an installed wheel
carries them inside the package (see pyproject.toml's force-include).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(folder: str) -> Path:
    for candidate in (_PACKAGE / folder, _PACKAGE.parent / folder):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cnndsl is installed without its {folder}/ folder")


def grammar_path() -> Path:
    return _find("grammars") / "cnn.lark"


def architectures_dir() -> Path:
    return _find("architectures")


def shipped_architectures() -> dict[str, Path]:
    """Shipped network files by name (the file stem): {'lenet5': Path(...), ...}."""
    return {p.stem: p for p in sorted(architectures_dir().glob("*.cnn"))}


def lesson_networks() -> dict[str, Path]:
    """The lessons' networks by name (docs/lessons/nets/ in a checkout, cnndsl/lesson_nets/ in a wheel);
    empty if neither is there."""
    for folder in (_PACKAGE / "lesson_nets", _PACKAGE.parent / "docs" / "lessons" / "nets"):
        if folder.is_dir():
            return {p.stem: p for p in sorted(folder.glob("*.cnn"))}
    return {}
