"""`cnndsl show`: what a convolutional network does to one image — the input, then for each conv layer
its first filters and the feature maps they make, in a grid; and what the network answers.

A filter is drawn as its weights over the kernel (averaged over the input channels when there are
several), blue negative, red positive, on a scale symmetric about zero. A feature map is the layer's
output after its activation (`conv …; relu` shows the ReLU's output), grey, scaled per map.
"""

from __future__ import annotations

import numpy as np

from ..errors import CnnError

MAX_PER_ROW = 8


def conv_layers(net) -> list[tuple[str, str]]:
    """(conv layer, the layer whose output is its feature map: the activation right after it, if any)."""
    out = []
    for n in net.layers:
        node = net.node(n)
        if node.op != "conv" or node.train_only:
            continue
        shown = n
        succ = list(net.graph.successors(n))
        while len(succ) == 1 and net.node(succ[0]).impl.fuses and len(net.node(succ[0]).inputs) == 1:
            shown = succ[0]
            if net.node(shown).impl.family == "activation":
                break
            succ = list(net.graph.successors(shown))
        out.append((n, shown))
    return out


def show(net, x: np.ndarray, label: int | None, path, per_row: int = MAX_PER_ROW, title: str = "") -> dict:
    """Draw the grid for one image x (C, H, W); returns what was drawn (layers, prediction)."""
    from ..plots import pyplot, save
    layers = conv_layers(net)
    if not layers:
        raise CnnError(f"{net.name} has no conv layer: nothing to show", hint="`cnndsl show` draws conv filters and maps")
    maps = net.activations(x[None], [shown for _, shown in layers])
    scores = net.logits(x[None])[0]
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    guess = int(np.argmax(probs))
    plt = pyplot()
    rows = 1 + 2 * len(layers)
    fig = plt.figure(figsize=(1.25 * per_row + 1.6, 1.3 * rows + 0.6))
    grid = fig.add_gridspec(rows, per_row + 1, width_ratios=[1.6] + [1] * per_row, hspace=0.55, wspace=0.25)
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(_image(x), cmap="gray" if x.shape[0] != 3 else None)
    truth = f"label {label}, " if label is not None else ""
    ax.set_title(f"input ({truth}\nanswer {guess}, {100 * probs[guess]:.0f} %)", fontsize=8)
    _bare(ax)
    top = np.argsort(-probs)[:per_row]
    ax = fig.add_subplot(grid[0, 2:])
    ax.bar([str(k) for k in top], probs[top], color=["C2" if k == label else "C0" for k in top])
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability", fontsize=8)
    ax.set_title("the network's answer: its most likely classes (green: the label)", fontsize=9)
    ax.tick_params(labelsize=8)
    drawn = []
    for i, (conv, shown) in enumerate(layers):
        w = net.params[f"{conv}.weight"]
        fmap = maps[shown][0]
        k = min(per_row, w.shape[0])
        filters = w[:k].mean(axis=1)
        bound = float(np.abs(filters).max()) or 1.0
        label_ax = fig.add_subplot(grid[1 + 2 * i, 0])
        label_ax.axis("off")
        label_ax.text(0, 0.5, f"{conv}\n{net.node(conv).impl.describe(net.node(conv).attrs)}\nfilters {k} of {w.shape[0]}",
                      fontsize=8, va="center")
        for j in range(k):
            ax = fig.add_subplot(grid[1 + 2 * i, 1 + j])
            ax.imshow(filters[j], cmap="RdBu_r", vmin=-bound, vmax=bound)
            _bare(ax)
        label_ax = fig.add_subplot(grid[2 + 2 * i, 0])
        label_ax.axis("off")
        what = net.node(shown).op if shown != conv else "conv"
        label_ax.text(0, 0.5, f"feature maps\n(after {what})\n{fmap.shape[1]}×{fmap.shape[2]}", fontsize=8, va="center")
        for j in range(min(per_row, fmap.shape[0])):
            ax = fig.add_subplot(grid[2 + 2 * i, 1 + j])
            ax.imshow(fmap[j], cmap="gray")
            _bare(ax)
        drawn.append({"conv": conv, "maps_of": shown, "filters": k, "map_shape": list(fmap.shape)})
    fig.suptitle(title or f"{net.name}: filters (blue −, red +) and feature maps for one image", fontsize=11)
    save(fig, path, tight=False)
    return {"layers": drawn, "answer": guess, "probability": float(probs[guess]), "label": label}


def _image(x: np.ndarray) -> np.ndarray:
    if x.shape[0] == 3:
        lo, hi = x.min(), x.max()
        return np.transpose((x - lo) / ((hi - lo) or 1), (1, 2, 0))
    return x[0]


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_linewidth(0.5)
