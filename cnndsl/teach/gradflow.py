"""`cnndsl gradflow A [B …]`: how large the gradient is at each layer, from the output back to the input —
at initialization and after some training steps — for several networks on one plot.

For each weight layer (conv, dense) of the main path, in order from the input:
  weight gradient norm      ‖∂L/∂W‖ over the layer's weights
  input gradient norm       ‖∂L/∂x‖ of the activation the layer reads, per image (RMS over the batch)
Every network sees the same images and labels, from the same seed. A plain deep network's norms fall
layer after layer towards the input (vanishing gradients); a residual one's stay level, because each
skip adds the identity: ∂(x + F(x))/∂x = 1 + ∂F/∂x.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


WEIGHTED = ("conv", "dense")


@dataclass
class Flow:
    """One network's measurements."""

    name: str
    layers: list[str]  # the weight layers of the main path, input to output
    weight: dict[int, list[float]] = field(default_factory=dict)  # step → ‖∂L/∂W‖ per layer
    activation: dict[int, list[float]] = field(default_factory=dict)  # step → ‖∂L/∂x‖ per layer, per image
    loss: list[float] = field(default_factory=list)  # the training batch's loss at each step

    def to_dict(self) -> dict:
        return {"name": self.name, "layers": self.layers,
                "weight_grad_norm": {str(k): v for k, v in self.weight.items()},
                "input_grad_norm": {str(k): v for k, v in self.activation.items()}, "loss": self.loss}


def weight_layers(net) -> list[str]:
    return [n for n in net.layers if net.node(n).op in WEIGHTED and not net.node(n).train_only
            and net.node(n).role == "main"]


def measure(net, x: np.ndarray, y: np.ndarray) -> tuple[float, list[float], list[float]]:
    """One training-mode forward and backward on (x, y): the loss and, per weight layer, the norms."""
    layers = weight_layers(net)
    reads = {net.node(n).inputs[0]: n for n in layers}  # the activation each weight layer reads
    seen: dict[str, float] = {}

    def observe(node: str, grad: np.ndarray) -> None:
        if node in reads:
            seen[reads[node]] = float(np.sqrt(np.mean(np.sum(grad.astype(np.float64).reshape(len(grad), -1) ** 2, 1))))
    loss = net.loss(x, y, seed=0)
    net.backward(input_grad=True, observe=observe)
    if "input" in reads:
        g = net.input_grad
        seen[reads["input"]] = float(np.sqrt(np.mean(np.sum(g.astype(np.float64).reshape(len(g), -1) ** 2, 1))))
    grads = net.engine.grads
    weight = [float(np.linalg.norm(grads[n]["weight"].astype(np.float64))) if n in grads else 0.0 for n in layers]
    return loss, weight, [seen.get(n, 0.0) for n in layers]


def gradflow(nets: list, steps: int = 0, data: str = "digits", batch: int = 32, lr: float = 1e-3,
             seed: int = 0, every: int | None = None) -> list[Flow]:
    """Measure each network at initialization and after `steps` steps of Adam on `data` (batches of
    `batch`, the same for every network); `every` also measures at each multiple of it."""
    from ..training.optim import Adam
    from .data import classifier_data
    flows = []
    for net in nets:
        dataset = classifier_data(net, data)
        net.init(seed)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(dataset.train.y))
        probe = order[:batch]
        flow = Flow(net.name, weight_layers(net))
        opt = Adam(lr)
        marks = {0, steps} | (set(range(every, steps, every)) if every else set())
        for step in range(steps + 1):
            if step in marks:
                _, w, a = measure(net, dataset.train.x[probe], dataset.train.y[probe])
                flow.weight[step], flow.activation[step] = w, a
            if step == steps:
                break
            idx = order[(step * batch) % len(order):][:batch]
            if len(idx) < batch:
                idx = np.concatenate([idx, order[:batch - len(idx)]])
            flow.loss.append(float(net.loss(dataset.train.x[idx], dataset.train.y[idx], seed=step)))
            net.backward(input_grad=False)
            opt.step(net.params, net.grads)
        flows.append(flow)
    return flows


def spread(values: list[float]) -> float:
    """The largest norm over the smallest (layers that got none left out)."""
    got = [v for v in values if v > 0]
    return max(got) / min(got) if got else float("nan")


def flow_summary(flows: list[Flow], steps: int) -> str:
    """One line per network: the weight-gradient norms of its first and last layers, their ratio, the
    spread over all layers, at initialization and after training, and the loss."""
    from ..summary import table_lines
    marks = [0] + ([steps] if steps else [])
    columns = [("network", "left"), ("layers", "right")]
    for s in marks:
        columns += [(f"first ‖∂L/∂W‖ @{s}", "right"), (f"last @{s}", "right"), (f"first/last @{s}", "right"),
                    (f"max/min @{s}", "right")]
    if steps:
        columns += [("loss, first 10", "right"), ("loss, last 10", "right")]
    rows = []
    for f in flows:
        cells = [f.name, str(len(f.layers))]
        for s in marks:
            w = f.weight[s]
            cells += [f"{w[0]:.3g}", f"{w[-1]:.3g}", f"{w[0] / w[-1]:.3g}" if w[-1] else "—", f"{spread(w):.3g}"]
        if steps:
            head, tail = f.loss[:10], f.loss[-10:]
            cells += [f"{sum(head) / len(head):.3f}", f"{sum(tail) / len(tail):.3f}"]
        rows.append((tuple(cells), None))
    title = "Weight-gradient norms, layer 1 (next to the input) to the last" + (f"; Adam, {steps} steps" if steps else "")
    return "\n".join(line.rstrip() for line in table_lines(title, tuple(columns), rows)) + "\n"


def flow_text(flows: list[Flow], steps: int) -> str:
    from ..summary import table_lines
    lines = []
    for f in flows:
        marks = sorted(f.weight)
        columns = (("layer", "left"),) + tuple((f"‖∂L/∂W‖ step {s}", "right") for s in marks) + (
            (f"‖∂L/∂x‖ step {marks[0]}", "right"),)
        rows = [((n, *(f"{f.weight[s][i]:.3g}" for s in marks), f"{f.activation[marks[0]][i]:.3g}"), None)
                for i, n in enumerate(f.layers)]
        first, last = f.weight[0][0], f.weight[0][-1]
        ratio = f"; first layer's weight gradient is {first / last:.3g}× the last's at initialization" if last else ""
        title = f"{f.name}: {len(f.layers)} weight layers, input → output{ratio}"
        lines += table_lines(title, columns, rows)
        if steps:
            tail = f.loss[-min(10, len(f.loss)):]
            lines.append(f" training loss: {f.loss[0]:.3f} at the first step, {sum(tail) / len(tail):.3f} over the "
                         f"last {len(tail)} of {steps}")
        lines.append("")
    return "\n".join(line.rstrip() for line in lines)


def plot(flows: list[Flow], path, steps: int) -> None:
    """Weight-gradient norm per layer (log) at initialization and after training; the loss curves."""
    from ..plots import pyplot, save
    plt = pyplot()
    panels = 3 if steps else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.3 * panels + 0.5, 4.0), squeeze=False)
    axes = axes[0]
    for i, f in enumerate(flows):
        style = dict(color=f"C{i % 10}", marker="o", markersize=3, linewidth=1.5, label=f.name)
        xs = range(1, len(f.layers) + 1)
        axes[0].plot(xs, _positive(f.weight[0]), **style)
        if steps:
            axes[1].plot(xs, _positive(f.weight[steps]), **style)
            axes[2].plot(range(len(f.loss)), f.loss, color=f"C{i % 10}", linewidth=1.2, label=f.name)
    titles = ["at initialization", f"after {steps} training steps"]
    for ax, title in zip(axes[:2], titles):
        ax.set_yscale("log")
        ax.set_xlabel("weight layer (1 = next to the input)")
        ax.set_ylabel("‖∂L/∂W‖ (log scale)")
        ax.set_title(f"Weight-gradient norm {title}")
    if steps:
        axes[2].set_xlabel("training step")
        axes[2].set_ylabel("training loss (cross-entropy)")
        axes[2].set_title("Training loss (Adam)")
    axes[0].legend(fontsize=8)
    save(fig, path)


def _positive(values: list[float]) -> list[float]:
    return [v if v > 0 else math.nan for v in values]
