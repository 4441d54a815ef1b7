"""dropout: zero each activation with probability p in training, scaling the rest by 1/(1−p)."""

from __future__ import annotations

from .base import Arg, Op


class Dropout(Op):
    name = "dropout"
    family = "regularization"
    help = "zeroes activations with probability p in training; identity at inference"
    positional = (Arg("p", "prob", help="drop probability"),)

    def describe(self, a):
        return f"dropout {a['p']:g}"
