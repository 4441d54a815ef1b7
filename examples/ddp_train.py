"""Train a network written in cnndsl on several processes — or machines — with PyTorch's
DistributedDataParallel. cnndsl's own engine stays on one machine; past it, PyTorch's is the engine.

    torchrun --nproc_per_node=2 examples/ddp_train.py lenet5 --steps 200 --out lenet5.npz
    # on two machines: torchrun --nnodes=2 --node_rank=R --master_addr=HOST --nproc_per_node=… (same args)

Every process builds the same network with the same seed (so all start from the same weights), takes
its own share of every batch (rank r of w takes the r-th of w slices), and DDP averages the gradients
across processes after each backward (gloo on CPUs, nccl on GPUs). At the end rank 0 writes the weights
under cnndsl's keys: `cnndsl run NET --weights lenet5.npz` and `cnndsl show` read them back.
"""

from __future__ import annotations

import argparse
import hashlib
import json

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

import cnndsl
from cnndsl.export.torch import to_torch
from cnndsl.training.data import load_data


def loss_of(output: torch.Tensor, labels: torch.Tensor, ends_in_softmax: bool) -> torch.Tensor:
    if ends_in_softmax:  # the module's output is already probabilities
        return F.nll_loss(torch.log(output.clamp_min(1e-12)), labels)
    return F.cross_entropy(output, labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("network", help="a .cnn file or a shipped architecture")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64, help="the global batch, split over the processes")
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="where rank 0 writes the trained weights (.npz, cnndsl's keys)")
    parser.add_argument("--report", help="a JSON file per rank: {rank}.json gets the losses and a weight hash")
    args = parser.parse_args()

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(args.seed)
    net = cnndsl.load(args.network).init(args.seed)
    ends_in_softmax = net.node(net.output).op == "softmax"
    model = DistributedDataParallel(to_torch(net))
    data = load_data("digits", tuple(net.input_shape), net.output_shape[0])
    x, y = torch.from_numpy(data.train.x), torch.from_numpy(data.train.y.astype(np.int64))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    order = np.random.default_rng(args.seed).permutation(len(y))  # the same on every rank
    losses = []
    model.train()
    for step in range(args.steps):
        start = (step * args.batch) % (len(y) - args.batch)
        batch = order[start:start + args.batch][rank::world]  # this rank's share of the global batch
        optimizer.zero_grad()
        loss = loss_of(model(x[batch]), y[batch], ends_in_softmax)
        loss.backward()  # DDP averages the gradients over the processes here
        optimizer.step()
        total = loss.detach().clone()
        dist.all_reduce(total)
        losses.append(total.item() / world)
    weights = model.module.weights_numpy()
    digest = hashlib.sha256(b"".join(weights[k].tobytes() for k in sorted(weights))).hexdigest()
    if args.report:
        with open(args.report.format(rank=rank), "w") as f:
            json.dump({"rank": rank, "world": world, "losses": losses, "weights_sha256": digest}, f)
    if rank == 0:
        print(f"{net.name}: {world} processes, {args.steps} steps, loss {np.mean(losses[:10]):.3f} → "
              f"{np.mean(losses[-10:]):.3f}")
        if args.out:
            np.savez(args.out, **weights)
            print(f"wrote {args.out}")
    dist.barrier()  # no rank tears gloo down while another still talks to it (it aborts the process)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
