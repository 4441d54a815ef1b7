"""The op registry: every op the language knows, found by importing each module of this package (an op
registers itself by subclassing Op with a `name`), and every layer name and alias mapped to its op."""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import clip, suggest
from .base import REGISTRY, Arg, ArgError, Attrs, Op, Shape, ShapeError, fmt_shape

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "doc"):
        importlib.import_module(f"{__name__}.{_module.name}")

OPS: dict[str, Op] = {name: cls() for name, cls in REGISTRY.items()}
LAYERS: tuple[type[Op], ...] = tuple(type(op) for op in OPS.values() if op.statement == "layer")
_BY_NAME: dict[str, Op] = {alias: OPS[cls.name] for cls in LAYERS for alias in (cls.name, *cls.aliases)}


def layer(name: str) -> Op | None:
    """The layer op a statement names (aliases included), or None."""
    return _BY_NAME.get(name)


def layer_names() -> list[str]:
    return sorted(_BY_NAME)


def unknown_layer_message(name: str) -> str:
    near = suggest(name, _BY_NAME)
    if near:
        return f"unknown layer '{clip(name)}'{near}"
    return f"unknown layer '{clip(name)}'; the layers are {', '.join(sorted(cls.name for cls in LAYERS))}"


__all__ = ["LAYERS", "OPS", "Arg", "ArgError", "Attrs", "Op", "Shape", "ShapeError", "fmt_shape", "layer",
           "layer_names", "unknown_layer_message"]
