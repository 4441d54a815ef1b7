"""Names the exporters and the importer make up."""

from __future__ import annotations


def fresh(base: str, taken: set[str]) -> str:
    """base, or base2, base3, … — the first not taken; it is taken from then on."""
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}{k}"
    taken.add(name)
    return name
