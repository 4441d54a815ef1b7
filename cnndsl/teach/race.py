"""`cnndsl race A B [C …]`: train several networks side by side on the same batches and ask which learns
faster — validation accuracy against the training step and against seconds, and the gap between the
accuracy on the training images and on the validation images (what dropout narrows)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..training.trainer import evaluate


@dataclass
class Run:
    name: str
    steps: list[int] = field(default_factory=list)  # where it was measured
    seconds: list[float] = field(default_factory=list)  # training time up to there (evaluation excluded)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # every step's training loss

    def to_dict(self) -> dict:
        return {"name": self.name, "steps": self.steps, "seconds": self.seconds, "train_accuracy": self.train_accuracy,
                "val_accuracy": self.val_accuracy, "loss": self.loss}


def accuracy(net, x: np.ndarray, y: np.ndarray) -> float:
    return evaluate(net, x, y)[1]


def race(nets: list, steps: int = 300, every: int = 25, data: str = "digits", batch: int = 32, lr: float | None = None,
         seed: int = 0, optimizer: str = "adam") -> list[Run]:
    """Adam (default rate 1e-3) or SGD with momentum 0.9 (default rate 0.01), as AlexNet trained."""
    from ..training.optim import SGD, Adam
    from .data import classifier_data
    runs = []
    for net in nets:
        dataset = classifier_data(net, data)
        n_train = len(dataset.train.y)
        probe = np.random.default_rng(seed + 1).permutation(n_train)[:min(n_train, 500)]
        net.init(seed)
        opt = Adam(lr or 1e-3) if optimizer == "adam" else SGD(lr or 0.01, momentum=0.9)
        run = Run(net.name)
        order = np.random.default_rng(seed).permutation(n_train)
        spent = 0.0
        for step in range(steps + 1):
            if step % every == 0 or step == steps:
                run.steps.append(step)
                run.seconds.append(spent)
                run.train_accuracy.append(accuracy(net, dataset.train.x[probe], dataset.train.y[probe]))
                run.val_accuracy.append(accuracy(net, dataset.val.x, dataset.val.y))
            if step == steps:
                break
            start = (step * batch) % n_train
            if start + batch > n_train:  # a new pass over the data, in a new order
                order = np.random.default_rng(seed + step).permutation(n_train)
            idx = order[start:start + batch] if start + batch <= n_train else order[:batch]
            began = time.perf_counter()
            run.loss.append(float(net.loss(dataset.train.x[idx], dataset.train.y[idx], seed=step)))
            net.backward(input_grad=False)
            opt.step(net.params, net.grads)
            spent += time.perf_counter() - began
        runs.append(run)
    return runs


def race_text(runs: list[Run]) -> str:
    from ..summary import table_lines
    columns = (("network", "left"), ("steps", "right"), ("val acc", "right"), ("train acc", "right"),
               ("gap", "right"), ("best val acc (step)", "right"), ("steps to 90 % val", "right"))
    rows = []
    for r in runs:
        best = int(np.argmax(r.val_accuracy))
        to90 = next((s for s, a in zip(r.steps, r.val_accuracy) if a >= 0.9), None)
        rows.append(((r.name, str(r.steps[-1]), f"{100 * r.val_accuracy[-1]:.1f} %", f"{100 * r.train_accuracy[-1]:.1f} %",
                      f"{100 * (r.train_accuracy[-1] - r.val_accuracy[-1]):+.1f}",
                      f"{100 * r.val_accuracy[best]:.1f} % ({r.steps[best]})", str(to90) if to90 is not None else "—"),
                     None))
    lines = table_lines("Trained side by side on the same batches; accuracy on the validation images", columns, rows)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def plot(runs: list[Run], path, title: str = "") -> None:
    from ..plots import pyplot, save
    plt = pyplot()
    fig, (by_step, by_time, gap) = plt.subplots(1, 3, figsize=(13, 3.9))
    for i, r in enumerate(runs):
        colour = f"C{i % 10}"
        val = [100 * a for a in r.val_accuracy]
        by_step.plot(r.steps, val, "o-", color=colour, markersize=3, label=r.name)
        by_time.plot(r.seconds, val, "o-", color=colour, markersize=3, label=r.name)
        gap.plot(r.steps, [100 * (t - v) for t, v in zip(r.train_accuracy, r.val_accuracy)], "o-", color=colour,
                 markersize=3, label=r.name)
    by_step.set(xlabel="training step", ylabel="validation accuracy (%)", title="Accuracy against the step")
    by_time.set(xlabel="training time (s, this machine)", ylabel="validation accuracy (%)",
                title="Accuracy against the clock")
    gap.set(xlabel="training step", ylabel="train − validation accuracy (points)",
            title="The gap: what was memorized, not learned")
    gap.axhline(0, color="#888888", linewidth=0.8)
    for ax in (by_step, by_time):
        ax.set_ylim(0, 100)
    by_step.legend(loc="lower right")
    gap.legend(loc="upper right", fontsize=8)
    if title:
        fig.suptitle(title)
    save(fig, path)
