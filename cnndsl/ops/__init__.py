"""The op registry: every layer name (and alias) the language knows, mapped to its Op."""

from __future__ import annotations

from ..errors import clip, suggest
from .activation import Identity, LeakyReLU, ReLU, ReLU6, Sigmoid, Softmax, Tanh
from .base import Arg, ArgError, Attrs, Op, Shape, ShapeError, fmt_shape
from .conv import Conv
from .dense import Dense
from .dropout import Dropout
from .merge import Add, Concat, Input
from .normalization import LRN, BatchNorm
from .pool import AvgPool, GlobalAvgPool, MaxPool
from .reshape import Flatten

LAYERS: tuple[type[Op], ...] = (
    Conv, Dense, MaxPool, AvgPool, GlobalAvgPool, Flatten, ReLU, ReLU6, Tanh, Sigmoid, Identity,
    LeakyReLU, Softmax, LRN, BatchNorm, Dropout,
)
OPS: dict[str, Op] = {cls.name: cls() for cls in LAYERS + (Concat, Add, Input)}
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
    return f"unknown layer '{clip(name)}'; the layers are {', '.join(sorted(OPS[cls.name].name for cls in LAYERS))}"


__all__ = ["OPS", "Arg", "ArgError", "Attrs", "Op", "Shape", "ShapeError", "fmt_shape", "layer", "layer_names",
           "unknown_layer_message"]
