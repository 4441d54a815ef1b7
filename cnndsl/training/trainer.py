"""The training loop: shuffled mini-batches, a progress bar, validation each epoch, test at the end,
checkpoints after each epoch and on Ctrl-C, and a clean stop on a NaN or Inf."""

from __future__ import annotations

import math
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..errors import CnnError
from ..files import write_json
from ..kernels.loss import softmax_xent
from . import checkpoint
from .data import DataSet
from .optim import make_optimizer, step_lr


@dataclass
class TrainConfig:
    """Defaults reach ≥ 97 % on the built-in digits with LeNet-5 in 10 epochs (docs/training.md)."""

    epochs: int = 10
    batch_size: int = 16
    lr: float = 2e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_step: int | None = None  # None: one ×0.1 step at 60 % of the epochs; 0: constant
    seed: int = 0
    augment: int | None = None  # largest random shift in pixels; None: H // 16; 0: none
    checkpoint: str | None = None
    resume: bool = False

    def step_every(self) -> int | None:
        if self.lr_step is None:
            return max(round(0.6 * self.epochs), 1)
        return self.lr_step or None


@dataclass
class History:
    epochs: list[dict] = field(default_factory=list)
    test_accuracy: float | None = None
    test_loss: float | None = None

    def to_dict(self) -> dict:
        return {"epochs": self.epochs, "test_accuracy": self.test_accuracy}


def evaluate(net, x: np.ndarray, y: np.ndarray, batch: int = 256) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) in eval mode."""
    total, correct = 0.0, 0
    for i in range(0, len(y), batch):
        xb, yb = x[i:i + batch], y[i:i + batch]
        z = np.ascontiguousarray(net.logits(xb))
        probs, dz = np.empty_like(z), np.empty_like(z)
        total += softmax_xent(z, yb, probs, dz) * len(yb)
        correct += int((z.argmax(axis=1) == yb).sum())
    return total / len(y), correct / len(y)


def check_trainable(net) -> None:
    if len(net.output_shape) != 1:
        raise CnnError(f"training needs a 1-D output (class scores); {net.name} gives "
                       f"{'×'.join(map(str, net.output_shape))}", hint="end the network with `flatten` and `dense CLASSES`")


def train(net, data: DataSet, cfg: TrainConfig, console: Console | None = None) -> History:
    """Train net on data. Ctrl-C finishes the step under way, saves a checkpoint that resumes exactly
    (a second Ctrl-C stops at once, keeping the last checkpoint) and raises KeyboardInterrupt."""
    console = console or Console(highlight=False)
    check_trainable(net)
    if cfg.resume and not cfg.checkpoint:
        raise CnnError("--resume needs --checkpoint PATH")
    net.init(cfg.seed)
    opt = make_optimizer(cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay)
    n = len(data.train.y)
    steps = math.ceil(n / cfg.batch_size)
    history, start_epoch, position = History(), 0, None
    if cfg.resume:
        meta = checkpoint.load(cfg.checkpoint, net, opt)
        start_epoch, history.epochs, position = meta["epoch"], meta["history"], meta.get("position")
        if position is not None:
            if (position.get("images"), position.get("batch_size")) != (n, cfg.batch_size):
                raise CnnError(f"{cfg.checkpoint} was interrupted in an epoch of {position.get('images')} images "
                               f"in batches of {position.get('batch_size')}; this run has {n} in batches of "
                               f"{cfg.batch_size}", hint="resume with the same --data and --batch-size")
            console.print(f"resumed from {cfg.checkpoint} in epoch {start_epoch + 1}, after step {position['step']}")
        else:
            console.print(f"resumed from {cfg.checkpoint} after epoch {start_epoch}")
        if start_epoch >= cfg.epochs:
            console.print(f"the checkpoint already has {start_epoch} epochs; nothing to train")
    shift = cfg.augment if cfg.augment is not None else net.input_shape[1] // 16
    with _interrupts() as stop:
        try:
            for epoch in range(start_epoch, cfg.epochs):
                opt.lr = step_lr(cfg.lr, epoch, cfg.step_every())
                rng = np.random.default_rng([cfg.seed, epoch])  # per epoch: a resumed run repeats it exactly
                order = rng.permutation(n)
                first, losses, before = 0, [], 0.0
                if position is not None:  # resumed in the middle of this epoch
                    rng.bit_generator.state = position["rng"]
                    first, losses, before = position["step"], list(position["losses"]), position.get("seconds", 0.0)
                    position = None
                t0 = time.perf_counter() - before
                with _progress(console) as bar:
                    task = bar.add_task(f"epoch {epoch + 1}/{cfg.epochs}", total=steps, completed=first,
                                        loss=float("nan"), rate=0.0)
                    for s in range(first, steps):
                        idx = order[s * cfg.batch_size:(s + 1) * cfg.batch_size]
                        x = random_shift(data.train.x[idx], shift, rng)
                        losses.append(_step(net, opt, x, data.train.y[idx], epoch, s, cfg))
                        done = (s + 1) * cfg.batch_size
                        bar.update(task, advance=1, loss=float(np.mean(losses[-20:])),
                                   rate=min(done, n) / max(time.perf_counter() - t0, 1e-9))
                        if stop.requested and s + 1 < steps:
                            where = {"step": s + 1, "rng": rng.bit_generator.state, "losses": losses,
                                     "seconds": time.perf_counter() - t0, "images": n, "batch_size": cfg.batch_size}
                            _save_interrupted(net, opt, cfg, console, epoch, history, where)
                val_loss, val_acc = evaluate(net, data.val.x, data.val.y)
                seconds = time.perf_counter() - t0
                record = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_loss": val_loss,
                          "val_accuracy": val_acc, "seconds": seconds, "lr": opt.lr}
                history.epochs.append(record)
                console.print(f"epoch {epoch + 1:>2}/{cfg.epochs}  loss {record['train_loss']:.4f}  "
                              f"val loss {val_loss:.4f}  val acc {100 * val_acc:6.2f} %  "
                              f"{seconds:4.1f} s  {n / seconds:,.0f} img/s", soft_wrap=True)
                if cfg.checkpoint:
                    checkpoint.save(cfg.checkpoint, net, opt, {"epoch": epoch + 1, "history": history.epochs})
                if stop.requested and epoch + 1 < cfg.epochs:
                    _save_interrupted(net, opt, cfg, console, epoch + 1, history, None)
        except _Interrupted:
            raise
        except KeyboardInterrupt:
            # the second Ctrl-C, in the middle of a step: the weights may be half-updated
            kept = f"; the last checkpoint, {cfg.checkpoint}, is intact" if cfg.checkpoint else ""
            console.print(f"\nstopped at once, without a checkpoint{kept}")
            raise
    history.test_loss, history.test_accuracy = evaluate(net, data.test.x, data.test.y)
    console.print(f"test accuracy {100 * history.test_accuracy:.2f} % ({len(data.test.y)} images), "
                  f"test loss {history.test_loss:.4f}")
    return history


class _Stop:
    requested = False


@contextmanager
def _interrupts():
    """The first Ctrl-C asks the loop to stop after the step under way; a second one stops at once."""
    stop = _Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _save_interrupted(net, opt, cfg: TrainConfig, console: Console, epoch: int, history: History,
                      position: dict | None) -> None:
    """The checkpoint of a Ctrl-C: where training stands, to resume exactly; then KeyboardInterrupt."""
    path = cfg.checkpoint or f"{net.name}-interrupted.npz"
    meta = {"epoch": epoch, "history": history.epochs} | ({"position": position} if position else {})
    checkpoint.save(path, net, opt, meta)
    where = f"in epoch {epoch + 1} after step {position['step']}" if position else f"after epoch {epoch}"
    console.print(f"\ninterrupted {where}: saved {path} (resume exactly with --checkpoint {path} --resume)")
    raise _Interrupted()


class _Interrupted(KeyboardInterrupt):
    pass


def random_shift(x: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """Augmentation: each image moved by up to m pixels each way, borders repeated."""
    if m <= 0:
        return x
    n, _, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (m, m), (m, m)), mode="edge")
    dy, dx = rng.integers(0, 2 * m + 1, n), rng.integers(0, 2 * m + 1, n)
    return np.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def _step(net, opt, x, y, epoch: int, step: int, cfg: TrainConfig) -> float:
    try:
        loss = net.loss(x, y, seed=cfg.seed * 100_003 + epoch * 10_007 + step)
        net.backward(input_grad=False)
    except CnnError as e:
        kept = f"; the last good checkpoint is {cfg.checkpoint}" if cfg.checkpoint else ""
        raise CnnError(f"training stopped in epoch {epoch + 1}, step {step + 1}: {e.message}{kept}", e.pos,
                       e.hint) from None
    opt.step(net.params, net.grads)
    return loss


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("{task.fields[rate]:,.0f} img/s"),
                    TimeRemainingColumn(), console=console, transient=True, disable=not console.is_terminal)


def write_metrics(path: str | Path, history: History) -> None:
    write_json(path, history.to_dict(), "metrics file")


def plot(path: str | Path, history: History, title: str) -> None:
    """Loss (train, validation) and validation accuracy against the epoch."""
    from ..plots import pyplot, save
    plt = pyplot()
    epochs = [e["epoch"] for e in history.epochs]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax1.plot(epochs, [e["train_loss"] for e in history.epochs], "o-", label="train")
    ax1.plot(epochs, [e["val_loss"] for e in history.epochs], "s-", label="validation")
    ax1.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax1.legend()
    ax2.plot(epochs, [100 * e["val_accuracy"] for e in history.epochs], "s-", color="C1", label="validation")
    if history.test_accuracy is not None:
        ax2.axhline(100 * history.test_accuracy, color="C2", ls="--", label=f"test {100 * history.test_accuracy:.1f} %")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax2.legend(loc="lower right")
    for ax in (ax1, ax2):
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    save(fig, path)
