"""Data sources: real IDX files written here (gzip or not), .npz, adaptation to the input shape."""

import gzip
import struct

import numpy as np
import pytest

from cnndsl.errors import CnnError
from cnndsl.training.data import adapt, load_data, read_idx, resize


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder, n_train=60, n_test=20, gz=False, size=28):
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, size, size)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, size, size)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, arr in files.items():
        data = idx_bytes(arr)
        (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)
    return files


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_folder(tmp_path, gz):
    files = write_mnist(tmp_path, gz=gz)
    data = load_data(str(tmp_path), (1, 32, 32), 10)
    assert data.train.x.shape == (54, 1, 32, 32) and data.val.x.shape == (6, 1, 32, 32)
    assert data.test.x.shape == (20, 1, 32, 32) and data.test.y.tolist() == files["t10k-labels-idx1-ubyte"].tolist()
    assert abs(data.train.x.mean()) < 1e-5 and abs(data.train.x.std() - 1) < 1e-4
    assert read_idx(tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else ""))).shape == (60, 28, 28)


def test_corrupt_and_truncated_idx_files(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    good = path.read_bytes()
    path.write_bytes(good[:-100])
    with pytest.raises(CnnError, match="holds .* bytes"):
        load_data(str(tmp_path), (1, 28, 28), 10)
    path.write_bytes(b"\x12\x34" + good[2:])
    with pytest.raises(CnnError, match="not an IDX file"):
        load_data(str(tmp_path), (1, 28, 28), 10)
    path.write_bytes(good[:10])
    with pytest.raises(CnnError, match="header is truncated|holds"):
        load_data(str(tmp_path), (1, 28, 28), 10)
    gz = tmp_path / "g"
    gz.mkdir()
    write_mnist(gz, gz=True)
    p = gz / "t10k-labels-idx1-ubyte.gz"
    p.write_bytes(p.read_bytes()[:-8])
    with pytest.raises(CnnError, match="gzip stream is corrupt or truncated"):
        load_data(str(gz), (1, 28, 28), 10)
    (gz / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(CnnError, match="has no t10k-labels-idx1-ubyte"):
        load_data(str(gz), (1, 28, 28), 10)


def test_npz_source_and_its_errors(tmp_path):
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "ok.npz", x=rng.integers(0, 256, (40, 3, 16, 16)), y=rng.integers(0, 4, 40))
    data = load_data(str(tmp_path / "ok.npz"), (1, 8, 8), 4)
    assert data.train.x.shape == (28, 1, 8, 8) and len(data.val.y) == 6 and len(data.test.y) == 6
    with pytest.raises(CnnError, match="labels 0…3, but the network has 3 outputs"):
        load_data(str(tmp_path / "ok.npz"), (1, 8, 8), 3)
    np.savez(tmp_path / "nolabels.npz", x=np.zeros((4, 8, 8)))
    with pytest.raises(CnnError, match="must hold arrays `x`"):
        load_data(str(tmp_path / "nolabels.npz"), (1, 8, 8), 2)
    with pytest.raises(CnnError, match="none of these"):
        load_data(str(tmp_path / "missing.npz"), (1, 8, 8), 2)


def test_adaptation_channels_and_sizes():
    gray = np.random.default_rng(0).random((2, 8, 8)).astype(np.float32)
    rgb = adapt(gray, (3, 8, 8), "t")
    assert rgb.shape == (2, 3, 8, 8) and np.array_equal(rgb[:, 0], rgb[:, 2])
    assert adapt(np.stack([gray] * 3, axis=1), (1, 8, 8), "t").shape == (2, 1, 8, 8)
    with pytest.raises(CnnError, match="2-channel images but the network takes 3"):
        adapt(np.zeros((2, 2, 8, 8), np.float32), (3, 8, 8), "t")
    with pytest.raises(CnnError, match="aspect ratio differs"):
        adapt(np.zeros((2, 8, 8), np.float32), (1, 16, 32), "t")


def test_resize_matches_torch_bilinear():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).random((2, 3, 8, 8)).astype(np.float32)
    for size in ((32, 32), (5, 5), (8, 8)):
        ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=size, mode="bilinear", align_corners=False)
        assert np.allclose(resize(x, *size), ref.numpy(), atol=1e-6)


def test_digits_split_is_fixed():
    a = load_data("digits", (1, 8, 8), 10)
    b = load_data("digits", (1, 8, 8), 10)
    assert np.array_equal(a.test.y, b.test.y) and len(a.train.y) + len(a.val.y) + len(a.test.y) == 1797


def test_what_the_data_adapt_is_said_in_one_line_each():
    from cnndsl.training.data import load_data
    data = load_data("digits", (1, 32, 32), 12)
    notes = data.adapted((1, 32, 32), 12)
    assert notes == ["note: the 1×8×8 images are resampled to the network's input, 1×32×32",
                     "note: the network has 12 outputs but the data have 10 classes; outputs 10…11 are never the answer"]
    assert load_data("digits", (1, 8, 8), 10).adapted((1, 8, 8), 10) == []
