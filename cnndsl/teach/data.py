"""The data the teaching tools train on: the trainer's checks and loader, each data set loaded once for
all the networks of one command that take the same input."""

from __future__ import annotations

from functools import lru_cache

from ..training.data import DataSet, load_data
from ..training.trainer import check_trainable


def classifier_data(net, source: str) -> DataSet:
    check_trainable(net)
    return _load(source, tuple(net.input_shape), net.output_shape[0])


@lru_cache(maxsize=4)
def _load(source: str, shape: tuple[int, ...], classes: int) -> DataSet:
    return load_data(source, shape, classes)
