"""The text report of `cnndsl run`: per-layer forward and backward times and the totals."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from ..format import human
from .runner import RunResult


def print_run(net, result: RunResult, console: Console) -> None:
    backward = result.backward_s is not None
    table = Table(box=box.SIMPLE_HEAD, title=f"{net.name} — batch {result.batch}, mode {result.mode}",
                  title_justify="left", pad_edge=False)
    for col in ("Layer", "Op", "Forward ms") + (("Backward ms",) if backward else ()) + ("Share",):
        table.add_column(col, justify="left" if col in ("Layer", "Op") else "right", no_wrap=True)
    total = result.forward_s + (result.backward_s or 0.0)
    for layer in result.layers:
        t = layer["forward_s"] + (layer["backward_s"] or 0.0)
        row = [layer["name"], layer["op"], f"{1e3 * layer['forward_s']:.2f}"]
        if backward:
            row.append(f"{1e3 * layer['backward_s']:.2f}")
        row.append(f"{100 * t / total:.1f} %" if total else "")
        table.add_row(*row)
    console.print(table)
    macs = net.inference_macs if result.mode == "eval" else net.macs
    rate = 2 * macs * result.batch / result.forward_s / 1e9
    console.print(f"Forward:   {1e3 * result.forward_s:9.2f} ms  ({rate:.1f} GFLOP/s counting 2 × MACs)")
    if backward:
        step_rate = 3 * 2 * macs * result.batch / total / 1e9
        console.print(f"Backward:  {1e3 * result.backward_s:9.2f} ms")
        console.print(f"Step:      {1e3 * total:9.2f} ms  ({step_rate:.1f} GFLOP/s counting 3 × forward)")
    if result.loss is not None:
        console.print(f"Loss:      {result.loss:.4f} (softmax-cross-entropy on random labels)")
    console.print(f"Peak memory: {human(result.peak_bytes, 'B')} (resident, whole process)")
