"""The training loop: LeNet-5 learns the digits, resume is exact, checkpoints are safe, errors are clear."""

import io
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from rich.console import Console

import cnndsl
from cnndsl.errors import CnnError
from cnndsl.training import trainer
from cnndsl.training.data import load_data
from cnndsl.training.trainer import TrainConfig, train

QUIET = Console(file=io.StringIO())


@pytest.fixture(scope="module")
def digits():
    return load_data("digits", (1, 32, 32), 10)


def test_lenet_learns_the_digits_in_three_epochs(digits):
    history = train(cnndsl.load("lenet5"), digits, TrainConfig(epochs=3), QUIET)
    assert history.test_accuracy >= 0.93
    losses = [e["train_loss"] for e in history.epochs]
    assert losses[0] > losses[-1] and len(history.epochs) == 3


def test_resume_repeats_an_uninterrupted_run_exactly(digits, tmp_path):
    small = digits.__class__(digits.name, *(s.__class__(s.x[:160], s.y[:160]) for s in
                                            (digits.train, digits.val, digits.test)), 10)
    straight = cnndsl.load("lenet5")
    train(straight, small, TrainConfig(epochs=2, lr_step=0), QUIET)
    ck = tmp_path / "ck.npz"
    first = cnndsl.load("lenet5")
    train(first, small, TrainConfig(epochs=1, lr_step=0, checkpoint=str(ck)), QUIET)
    resumed = cnndsl.load("lenet5")
    history = train(resumed, small, TrainConfig(epochs=2, lr_step=0, checkpoint=str(ck), resume=True), QUIET)
    assert [e["epoch"] for e in history.epochs] == [1, 2]
    for k, v in straight.params.items():
        assert np.array_equal(v, resumed.params[k]), k


def test_checkpoint_from_another_network_is_refused(digits, tmp_path):
    ck = tmp_path / "ck.npz"
    small = digits.__class__(digits.name, *(s.__class__(s.x[:32], s.y[:32]) for s in
                                            (digits.train, digits.val, digits.test)), 10)
    train(cnndsl.load("lenet5"), small, TrainConfig(epochs=1, checkpoint=str(ck)), QUIET)
    other = cnndsl.parse("network Other\ninput 1x32x32\nconv 4 5x5; relu\ngap\nflatten\ndense 10")
    with pytest.raises(CnnError, match="saved from network 'LeNet5'"):
        train(other, small, TrainConfig(epochs=2, checkpoint=str(ck), resume=True), QUIET)


def test_nan_stops_training_names_the_step_and_keeps_the_last_good_checkpoint(digits, tmp_path):
    ck = tmp_path / "ck.npz"
    small = digits.__class__(digits.name, *(s.__class__(s.x[:64], s.y[:64]) for s in
                                            (digits.train, digits.val, digits.test)), 10)
    train(cnndsl.load("lenet5"), small, TrainConfig(epochs=1, checkpoint=str(ck)), QUIET)
    before = ck.read_bytes()
    net = cnndsl.parse("network Blow\ninput 1x32x32\nconv 6 5x5; relu\nflatten\ndense 10\nsoftmax")
    with pytest.raises(CnnError, match=r"training stopped in epoch 1, step \d+: (NaN or Inf in the .* of layer|the loss)"):
        train(net, small, TrainConfig(epochs=3, optimizer="sgd", lr=1e12, checkpoint=str(tmp_path / "b.npz")), QUIET)
    assert ck.read_bytes() == before


def few(digits, n: int):
    return digits.__class__(digits.name, *(s.__class__(s.x[:n], s.y[:n]) for s in
                                           (digits.train, digits.val, digits.test)), 10)


def ctrl_c_after(monkeypatch, step: int) -> None:
    """A real SIGINT, as Ctrl-C sends it, right after the given (1-based) training step."""
    real, calls = trainer._step, []

    def stepped(*args):
        loss = real(*args)
        calls.append(1)
        if len(calls) == step:
            os.kill(os.getpid(), signal.SIGINT)
        return loss
    monkeypatch.setattr(trainer, "_step", stepped)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("step", [1, 15, 10, 20])  # 10 steps an epoch: start, middle, end of an epoch, the last
def test_ctrl_c_anywhere_resumes_to_the_same_weights_bit_for_bit(digits, tmp_path, monkeypatch, step, optimizer):
    small = few(digits, 160)
    cfg = dict(epochs=3, lr_step=2, optimizer=optimizer, lr=0.01 if optimizer == "sgd" else 2e-3)
    straight = cnndsl.load("lenet5")
    expected = train(straight, small, TrainConfig(**cfg), QUIET)
    ck = tmp_path / "ck.npz"
    ctrl_c_after(monkeypatch, step)
    with pytest.raises(KeyboardInterrupt):
        train(cnndsl.load("lenet5"), small, TrainConfig(**cfg, checkpoint=str(ck)), QUIET)
    meta = json.loads(str(np.load(ck)["meta"]))
    assert meta["step"] == step and meta["epoch"] == step // 10
    assert ("position" in meta) == (step % 10 != 0)
    monkeypatch.undo()
    resumed = cnndsl.load("lenet5")
    history = train(resumed, small, TrainConfig(**cfg, checkpoint=str(ck), resume=True), QUIET)
    for k, v in straight.params.items():
        assert np.array_equal(v, resumed.params[k]), k
    assert [e["train_loss"] for e in history.epochs] == [e["train_loss"] for e in expected.epochs]


def test_a_second_ctrl_c_stops_at_once_and_keeps_the_last_checkpoint(digits, tmp_path, monkeypatch):
    ck = tmp_path / "ck.npz"
    real, calls = trainer._step, []

    def stepped(*args):
        calls.append(1)
        if len(calls) == 12:  # in epoch 2: the handler's flag is set, then the second one interrupts the step
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args)
    monkeypatch.setattr(trainer, "_step", stepped)
    with pytest.raises(KeyboardInterrupt):
        train(cnndsl.load("lenet5"), few(digits, 160), TrainConfig(epochs=2, checkpoint=str(ck)), QUIET)
    meta = json.loads(str(np.load(ck)["meta"]))
    assert meta["epoch"] == 1 and "position" not in meta  # the end-of-epoch checkpoint, untouched


def test_resuming_mid_epoch_with_another_batch_size_is_refused(digits, tmp_path, monkeypatch):
    ck = tmp_path / "ck.npz"
    ctrl_c_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        train(cnndsl.load("lenet5"), few(digits, 160), TrainConfig(epochs=1, checkpoint=str(ck)), QUIET)
    monkeypatch.undo()
    with pytest.raises(CnnError, match="in batches of 16"):
        train(cnndsl.load("lenet5"), few(digits, 160), TrainConfig(epochs=1, batch_size=8, checkpoint=str(ck),
                                                                   resume=True), QUIET)


def test_cli_train_writes_metrics_and_plot(tmp_path):
    run = subprocess.run([sys.executable, "-m", "cnndsl", "train", "lenet5", "--epochs", "1", "--metrics",
                          tmp_path / "m.json", "--plot", tmp_path / "c.png", "--save-weights", tmp_path / "w.npz"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert list(metrics) == ["epochs", "test_accuracy"] and 0 < metrics["test_accuracy"] <= 1
    assert {"epoch", "train_loss", "val_loss", "val_accuracy", "seconds"} <= set(metrics["epochs"][0])
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert "test accuracy" in run.stdout
    cnndsl.load("lenet5").load_weights(tmp_path / "w.npz")


def test_cli_train_refuses_labels_outside_the_classes(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((30, 32, 32)), y=np.arange(30) % 12)
    run = subprocess.run([sys.executable, "-m", "cnndsl", "train", "lenet5", "--data", tmp_path / "d.npz"],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "labels 0…11, but the network has 10 outputs" in run.stderr
    assert "Traceback" not in run.stderr


def rewrite(path, change):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    change(arrays)
    np.savez(path, **arrays)


def set_meta(value):
    return lambda arrays: arrays.__setitem__("meta", np.array(value))


def edit_meta(fn):
    def change(arrays):
        meta = json.loads(str(arrays["meta"]))
        fn(meta)
        arrays["meta"] = np.array(json.dumps(meta))
    return change


@pytest.mark.parametrize("change, message", [
    (set_meta("not json {"), "is not the JSON object cnndsl writes"),
    (set_meta("[1, 2, 3]"), "is not the JSON object cnndsl writes"),
    (edit_meta(lambda m: m.pop("epoch")), "lacks a valid `epoch`"),
    (edit_meta(lambda m: m.pop("step")), "lacks a valid `step`"),
    (edit_meta(lambda m: m.update(epoch="two")), "lacks a valid `epoch`"),
    (lambda a: a.__setitem__("weights/conv1.weight", np.zeros((1, 1), np.float32)), "conv1.weight"),
    (lambda a: a.__setitem__("weights/conv1.weight", np.array(["x"])), "conv1.weight"),
    (lambda a: [a.pop(k) for k in [k for k in a if k.startswith("optimizer/")]], "no adam state"),
    (lambda a: a.__setitem__("optimizer/m/conv1.weight", np.zeros(3, np.float32)), "does not fit the network"),
])
def test_a_damaged_checkpoint_is_refused_clearly(digits, tmp_path, change, message):
    ck = tmp_path / "ck.npz"
    small = few(digits, 48)
    train(cnndsl.load("lenet5"), small, TrainConfig(epochs=1, checkpoint=str(ck)), QUIET)
    rewrite(ck, change)
    with pytest.raises(CnnError, match=message):
        train(cnndsl.load("lenet5"), small, TrainConfig(epochs=2, checkpoint=str(ck), resume=True), QUIET)
