"""Bad files, flags, output paths and environment variables: each a one-line error and exit status 1
(never a traceback, never NumPy's advice to unpickle), and no existing file changed by a failed command."""

import gzip
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest


def cnndsl(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "cnndsl", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env=(os.environ | (env or {})), timeout=120)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    np.save(d / "x.npy", np.zeros((2, 1, 32, 32), np.float32))
    (d / "renamed.npz").write_bytes((d / "x.npy").read_bytes())
    (d / "empty.npz").write_bytes(b"")
    (d / "empty.npy").write_bytes(b"")
    (d / "text.npz").write_text("conv1.weight = 1\n")
    (d / "text.npy").write_text("1 2 3\n")
    with zipfile.ZipFile(d / "junk.npz", "w") as z:
        z.writestr("conv1.weight.npy", "not an array")
    np.savez(d / "strings.npz", **{"conv1.weight": np.array(["a", "b"])})
    np.savez(d / "broadcast.npz", **{"conv1.weight": np.zeros((1, 1), np.float32)})
    np.savez(d / "x.npz", x=np.zeros((2, 1, 32, 32), np.float32))
    np.save(d / "strings.npy", np.array([["a"] * 10] * 2))
    np.save(d / "objects.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    np.savez(d / "d_strings.npz", x=np.array([["a"]] * 40), y=np.zeros(40, np.int64))
    np.savez(d / "d_empty_images.npz", x=np.zeros((50, 0, 0)), y=np.zeros(50, np.int64))
    (d / "d_truncated.npz").write_bytes((d / "x.npz").read_bytes()[:120])
    (d / "afile").write_text("a regular file, not a folder\n")
    mnist = d / "mnist"
    mnist.mkdir()
    idx = bytes([0, 0, 8, 3]) + (0).to_bytes(4, "big") + (28).to_bytes(4, "big") + (28).to_bytes(4, "big")
    labels = bytes([0, 0, 8, 1]) + (0).to_bytes(4, "big")
    for stem, data in (("train-images-idx3-ubyte", idx), ("train-labels-idx1-ubyte", labels),
                       ("t10k-images-idx3-ubyte", idx), ("t10k-labels-idx1-ubyte", labels)):
        (mnist / stem).write_bytes(data)
    corrupt = d / "corrupt"
    corrupt.mkdir()
    (corrupt / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx * 3)[:12] + b"\xff" * 40)
    return d


CASES = [
    (["run", "lenet5", "--weights", "empty.npz"], "is empty"),
    (["run", "lenet5", "--weights", "renamed.npz"], "is a single .npy array"),
    (["run", "lenet5", "--weights", "junk.npz"], "is not a readable array"),
    (["run", "lenet5", "--weights", "strings.npz"], "holds <U1 values"),
    (["run", "lenet5", "--weights", "broadcast.npz"], "conv1.weight: file (1, 1), network (6, 1, 5, 5)"),
    (["run", "lenet5", "--weights", "text.npz"], "is not an .npz archive"),
    (["run", "lenet5", "--input", "x.npz"], "is an .npz archive"),
    (["run", "lenet5", "--input", "empty.npy"], "is empty"),
    (["run", "lenet5", "--input", "text.npy"], "is not a single .npy array"),
    (["run", "lenet5", "--input", "objects.npy"], "holds Python objects"),
    (["run", "lenet5", "--grad-output", "strings.npy"], "holds <U1 values"),
    (["train", "lenet5", "--data", "d_strings.npz"], "holds <U1 values"),
    (["train", "lenet5", "--data", "d_empty_images.npz"], "empty images"),
    (["train", "lenet5", "--data", "d_truncated.npz"], "not a readable .npz archive"),
    (["train", "lenet5", "--data", "mnist"], "no size may be 0"),
    (["train", "lenet5", "--data", "corrupt"], "gzip stream is corrupt"),
    (["run", "lenet5", "--output", "afile/y.npy"], "afile is a file, not a folder"),
    (["run", "lenet5", "--save-weights", "afile/w.npz"], "afile is a file, not a folder"),
    (["run", "lenet5", "--save-grads", "afile/g.npz"], "afile is a file, not a folder"),
    (["run", "lenet5", "--output", "."], "is a folder"),
    (["train", "lenet5", "--metrics", "afile/m.json"], "afile is a file, not a folder"),
    (["train", "lenet5", "--plot", "afile/c.png"], "afile is a file, not a folder"),
    (["train", "lenet5", "--checkpoint", "afile/c.npz"], "afile is a file, not a folder"),
    (["train", "lenet5", "--save-weights", "afile/w.npz"], "afile is a file, not a folder"),
    (["train", "lenet5", "--plot", "curves.xyz"], "must end in"),
    (["render", "lenet5", "-o", "afile/x.svg"], "afile is a file, not a folder"),
    (["train", "lenet5", "--lr", "-1"], "expected a learning rate > 0"),
    (["train", "lenet5", "--lr", "nan"], "expected a learning rate > 0"),
    (["train", "lenet5", "--epochs", "0"], "expected a whole number ≥ 1"),
    (["train", "lenet5", "--batch-size", "-4"], "expected a whole number ≥ 1"),
    (["train", "lenet5", "--momentum", "1.5"], "expected a momentum ≥ 0 and < 1"),
    (["train", "lenet5", "--weight-decay", "-0.1"], "expected a weight decay ≥ 0"),
    (["train", "lenet5", "--augment", "100000000"], "more than half its size"),
    (["train", "lenet5", "--lr-step", "-2"], "expected a whole number ≥ 0"),
    (["train", "lenet5", "--resume"], "--resume needs --checkpoint"),
    (["run", "lenet5", "--seed", "-1"], "expected a whole number ≥ 0"),
    (["run", "lenet5", "--batch", "100000000000"], "use a batch of at most"),
    (["gallery", "afile"], "is a file"),
    (["check", "lenet5.cnn"], "no file or shipped architecture"),
    (["frobnicate"], "invalid choice"),
]


@pytest.mark.parametrize("args, message", CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_a_bad_file_or_flag_is_one_clear_error(folder, args, message):
    run = cnndsl(*args, cwd=folder)
    assert run.returncode == 1, run.stderr
    assert message in run.stderr
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    assert "allow_pickle" not in run.stderr


@pytest.mark.parametrize("value", ["", "abc", "0", "-3", "1000"])
@pytest.mark.parametrize("command", [["check", "lenet5"], ["summary", "lenet5"], ["run", "lenet5"]])
def test_a_bad_thread_count_names_the_variable(folder, value, command):
    run = cnndsl(*command, cwd=folder, env={"CNNDSL_THREADS": value})
    assert run.returncode == 1 and f"CNNDSL_THREADS={value!r}" in run.stderr and "whole number from 1" in run.stderr


def test_a_failed_command_changes_no_file(folder, tmp_path):
    y = tmp_path / "y.npy"
    y.write_bytes(b"keep me")
    run = cnndsl("run", "lenet5", "--output", y, "--save-weights", folder / "afile" / "x", cwd=tmp_path)
    assert run.returncode == 1 and y.read_bytes() == b"keep me"
    run = cnndsl("run", "lenet5", "--output", y, "--weights", folder / "broadcast.npz", cwd=tmp_path)
    assert run.returncode == 1 and y.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["y.npy"]  # no temporary file left behind


def test_an_output_keeps_the_name_it_was_given(tmp_path):
    run = cnndsl("run", "lenet5", "--output", "y", "--save-weights", "w", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert np.load(tmp_path / "y").shape == (1, 10) and sorted(np.load(tmp_path / "w").files)[0] == "conv1.bias"


def test_a_training_checkpoint_works_as_weights(tmp_path):
    run = cnndsl("train", "lenet5", "--epochs", "1", "--checkpoint", "ck.npz", "--save-weights", "w.npz", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    a = cnndsl("run", "lenet5", "--weights", "ck.npz", "--output", "a.npy", cwd=tmp_path)
    b = cnndsl("run", "lenet5", "--weights", "w.npz", "--output", "b.npy", cwd=tmp_path)
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_version(tmp_path):
    import cnndsl as package
    run = cnndsl("--version", cwd=tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == f"cnndsl {package.__version__}"


def test_outputs_get_the_usual_file_mode(tmp_path):
    """Written through a temporary file, an output still gets the mode a plain open() gives (not 0600),
    and a replaced file keeps its own."""
    import os
    import stat
    mask = os.umask(0o022)
    try:
        run = cnndsl("run", "lenet5", "--output", "y.npy", cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        assert stat.S_IMODE((tmp_path / "y.npy").stat().st_mode) == 0o644
        os.chmod(tmp_path / "y.npy", 0o640)
        assert cnndsl("run", "lenet5", "--output", "y.npy", cwd=tmp_path).returncode == 0
        assert stat.S_IMODE((tmp_path / "y.npy").stat().st_mode) == 0o640
    finally:
        os.umask(mask)
