"""Data sets for training: scikit-learn's bundled digits (the default, nothing to download), MNIST's IDX
files from a folder, or an .npz with `x` and `y`; adapted to the network's input shape.

Every source yields a fixed train / validation / test split of float32 images (N, C, H, W), scaled to
[0, 1] and then standardized with the training set's mean and standard deviation.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CnnError
from ..files import read_npz

SPLIT_SEED = 20240501  # the split never depends on --seed: runs with different seeds share it


@dataclass
class Split:
    x: np.ndarray
    y: np.ndarray


@dataclass
class DataSet:
    name: str
    train: Split
    val: Split
    test: Split
    classes: int
    image_shape: tuple[int, ...] = ()  # the images as the source holds them, before adaptation

    def adapted(self, input_shape: tuple[int, ...], outputs: int) -> list[str]:
        """One line for each way the data were fitted to the network, to print before training."""
        notes = []
        if self.image_shape and tuple(self.image_shape) != tuple(input_shape):
            notes.append(f"note: the {'×'.join(map(str, self.image_shape))} images are resampled to the network's "
                         f"input, {'×'.join(map(str, input_shape))}")
        if outputs > self.classes:
            notes.append(f"note: the network has {outputs} outputs but the data have {self.classes} classes; "
                         f"outputs {self.classes}…{outputs - 1} are never the answer")
        return notes

    def describe(self) -> str:
        shape = "×".join(map(str, self.train.x.shape[1:]))
        return (f"{self.name}: {len(self.train.y)} train / {len(self.val.y)} validation / {len(self.test.y)} test "
                f"images, {shape}, {self.classes} classes")


def load_data(source: str, input_shape: tuple[int, int, int], classes: int) -> DataSet:
    """`digits`, a folder of MNIST IDX files, or an .npz file with `x` and `y`."""
    if source == "digits":
        images, labels, name = *_digits(), "digits (scikit-learn, 8×8)"
        parts = _split(images, labels, (0.7, 0.15))
    else:
        path = Path(source)
        if path.is_dir():
            train_x, train_y, test_x, test_y = _mnist_folder(path)
            n_val = max(len(train_y) // 10, 1)
            order = np.random.default_rng(SPLIT_SEED).permutation(len(train_y))
            val_idx, train_idx = order[:n_val], order[n_val:]
            parts = ((train_x[train_idx], train_y[train_idx]), (train_x[val_idx], train_y[val_idx]), (test_x, test_y))
            name = f"MNIST IDX files in {path}"
        elif path.suffix == ".npz" and path.is_file():
            images, labels = _npz(path)
            parts = _split(images, labels, (0.7, 0.15))
            name = str(path)
        else:
            raise CnnError(f"--data must be `digits`, a folder of MNIST IDX files, or an .npz file; "
                           f"'{source}' is none of these")
    source = tuple(parts[0][0].shape[1:]) if parts[0][0].ndim == 4 else (1,) + tuple(parts[0][0].shape[1:])
    splits = [Split(adapt(x, input_shape, name), _check_labels(y, classes, name)) for x, y in parts]
    mean, std = float(splits[0].x.mean()), float(splits[0].x.std()) or 1.0
    for s in splits:
        s.x -= mean
        s.x /= std
    return DataSet(name, *splits, _classes(parts, classes), source)


def _classes(parts, outputs: int) -> int:
    """The number of classes the labels use (at most the network's outputs, checked before)."""
    top = max((int(y.max()) for _, y in parts if y.size), default=outputs - 1)
    return max(top + 1, 1)


def _split(images, labels, fractions):
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    n_train = int(round(fractions[0] * len(labels)))
    n_val = int(round(fractions[1] * len(labels)))
    if min(n_train, n_val, len(labels) - n_train - n_val) < 1:
        raise CnnError(f"{len(labels)} images are too few to split into train, validation and test sets")
    cuts = np.split(order, [n_train, n_train + n_val])
    return tuple((images[c], labels[c]) for c in cuts)


def _digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise CnnError("the built-in digits need scikit-learn: pip install scikit-learn") from None
    d = load_digits()
    return d.images.astype(np.float32) / 16.0, d.target.astype(np.int64)


# ---- MNIST IDX ---------------------------------------------------------------------------------------

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (gzip or not): magic 0x0000 TT DD, DD big-endian uint32 sizes, then the data."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CnnError(f"cannot read {path}: {e.strerror}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise CnnError(f"{path}: the gzip stream is corrupt or truncated ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise CnnError(f"{path} is not an IDX file (its first four bytes are {raw[:4].hex() or 'missing'})",
                       hint="MNIST's files are named like train-images-idx3-ubyte(.gz)")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise CnnError(f"{path}: the header is truncated")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    if min(dims) < 1:
        raise CnnError(f"{path}: the header announces {'×'.join(map(str, dims))} values; no size may be 0")
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    need = math.prod(dims) * dtype.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != need:
        raise CnnError(f"{path}: the header announces {'×'.join(map(str, dims))} values ({need:,} bytes) but the "
                       f"file holds {len(body):,} bytes", hint="the file is truncated or corrupt; download it again")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).exists():
            return folder / name
    raise CnnError(f"{folder} has no {stem}[.gz]", hint="an MNIST folder holds train-images-idx3-ubyte, "
                   "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (gzip or not)")


def _mnist_folder(folder: Path):
    arrays = [read_idx(_find(folder, stem)) for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]
    train_x, train_y, test_x, test_y = arrays
    for x, y, which in ((train_x, train_y, "train"), (test_x, test_y, "t10k")):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise CnnError(f"{folder}: the {which} images {x.shape} and labels {y.shape} do not match")
        if y.dtype.kind not in "iu":
            raise CnnError(f"{folder}: the {which} labels are {y.dtype}, not whole numbers")
    if len(train_y) < 2:
        raise CnnError(f"{folder}: {len(train_y)} training images are too few to split off a validation set")
    scale = 255.0 if train_x.dtype == np.uint8 else 1.0
    return (train_x.astype(np.float32) / scale, train_y.astype(np.int64),
            test_x.astype(np.float32) / scale, test_y.astype(np.int64))


def _npz(path: Path):
    arrays = read_npz(path, "data set", kinds="fiub")
    if "x" not in arrays or "y" not in arrays:
        raise CnnError(f"{path} must hold arrays `x` (images) and `y` (labels); it holds "
                       f"{', '.join(arrays) or 'nothing'}")
    x, y = arrays["x"], arrays["y"]
    if x.dtype.kind not in "fiu":
        raise CnnError(f"{path}: `x` holds {x.dtype} values; expected pixel values (numbers)")
    if x.ndim not in (3, 4) or y.ndim != 1 or len(x) != len(y):
        raise CnnError(f"{path}: `x` must be (N, H, W) or (N, C, H, W) and `y` (N,); got {x.shape} and {y.shape}")
    if y.dtype.kind not in "iu":
        raise CnnError(f"{path}: `y` must hold whole-number class labels, not {y.dtype}")
    if min(x.shape[1:]) < 1:
        raise CnnError(f"{path}: `x` holds empty images, of shape {x.shape[1:]}")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise CnnError(f"{path}: `x` holds NaN or Inf")
    if x.size and x.max() > 1.5:  # 0–255 pixels
        x /= 255.0
    return x, y.astype(np.int64)


# ---- adaptation ----------------------------------------------------------------------------------

def adapt(x: np.ndarray, shape: tuple[int, int, int], name: str) -> np.ndarray:
    """Images (N, H, W) or (N, C, H, W) → (N, C', H', W') of the network: gray repeated into C' channels,
    colour averaged into one; sizes changed by bilinear resampling when the aspect ratio is kept."""
    if x.ndim == 3:
        x = x[:, None]
    c, h, w = shape
    if x.shape[1] != c:
        if x.shape[1] == 1:
            x = np.repeat(x, c, axis=1)
        elif c == 1:
            x = x.mean(axis=1, keepdims=True)
        else:
            raise CnnError(f"{name} has {x.shape[1]}-channel images but the network takes {c} channels",
                           hint="only gray → C channels and C channels → gray are converted")
    if x.shape[2:] != (h, w):
        sh, sw = x.shape[2:]
        if abs(sh / sw - h / w) > 0.01:
            raise CnnError(f"{name} has {sh}×{sw} images but the network takes {h}×{w}: the aspect ratio differs",
                           hint="resize or crop the images to the network's aspect ratio first")
        x = resize(x, h, w)
    return np.ascontiguousarray(x, dtype=np.float32)


def resize(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear resampling of (N, C, H, W) with aligned pixel centres (as align_corners=False)."""
    def axis(n_in: int, n_out: int):
        pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (pos - lo).astype(np.float32)
    y0, y1, fy = axis(x.shape[2], h)
    x0, x1, fx = axis(x.shape[3], w)
    rows = x[:, :, y0] * (1 - fy)[:, None] + x[:, :, y1] * fy[:, None]
    return rows[:, :, :, x0] * (1 - fx) + rows[:, :, :, x1] * fx


def _check_labels(y: np.ndarray, classes: int, name: str) -> np.ndarray:
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise CnnError(f"{name} has labels {int(y.min())}…{int(y.max())}, but the network has {classes} outputs "
                       f"(labels 0…{classes - 1})", hint="make the last dense layer as wide as the number of classes")
    return y
