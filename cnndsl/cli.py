"""The `cnndsl` command line. Every user error prints as file:line:col with a hint, exit status 1."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys


from . import __version__
from .errors import CnnError
from .files import check_outputs, write_npy, write_npz
from .format import human
from .render.view import MAX_RANKS, auto_depth
from .network import Network
from .network import load as load_network
from .network import resolve
from .resources import shipped_architectures

EPILOG = """examples:
  cnndsl list                          the shipped architectures
  cnndsl check my_net.cnn              parse and check a file (exit 1 on an error)
  cnndsl summary resnet50 --depth 1    per-layer table, blocks collapsed below depth 1
  cnndsl summary lenet5 --json         the same as JSON
  cnndsl explain resnet18 conv1        the arithmetic behind one layer's numbers
  cnndsl compare vgg16 resnet50 --plot c.png   networks side by side, and a picture
  cnndsl gradflow plain.cnn residual.cnn -o flow.png   gradient norms layer by layer
  cnndsl show lenet5 --weights w.npz -o maps.png       one image's filters and feature maps
  cnndsl render googlenet -o g.svg     draw it (.svg .png .pdf .dot); --depth 0 folds the blocks
  cnndsl run resnet18 --batch 8 --backward --repeat 3   time a training step, layer by layer
  cnndsl gradcheck lenet5              analytic gradients against float64 finite differences
  cnndsl train lenet5 --plot curves.png           train on the built-in digits, plot the curves
"""


def _network_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("network", metavar="FILE|NAME", help="a .cnn file, or a shipped architecture (see `cnndsl list`)")


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0–65535, got {text!r}")
    return int(text)


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < least:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ {least}, got {text!r}")
    return value


def _whole_or_zero(text: str) -> int:
    return _whole(text, 0)


def _batch_dim(text: str) -> int | str:
    return text if text == "dynamic" else _whole(text, 1)


def _positive(text: str) -> int:
    return _whole(text, 1)


def _at_most(high: int, least: int = 1):
    """A whole number from `least` to `high`: a count so large it could only be a slip is refused, not run."""
    def parse(text: str) -> int:
        value = _whole(text, least)
        if value > high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {least} to {high:,}, got {text!r}")
        return value
    return parse


def _seed(text: str) -> int:
    value = _whole(text, 0)
    if value >= 2**63:
        raise argparse.ArgumentTypeError(f"expected a whole number below 2^63, got {text!r}")
    return value


def _number(text: str, low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False,
            what: str = "") -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    fits = (math.isfinite(value) and (value > low if low_open else value >= low)
            and (value < high if high_open else value <= high))
    if not fits:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _rate(text: str) -> float:
    return _number(text, 0, 10, low_open=True, what="a learning rate > 0 and ≤ 10")


def _decay(text: str) -> float:
    return _number(text, 0, 1, what="a weight decay ≥ 0 and ≤ 1")


def _momentum(text: str) -> float:
    return _number(text, 0, 1, high_open=True, what="a momentum ≥ 0 and < 1")


def _tolerance(text: str) -> float:
    return _number(text, 0, 1, what="a tolerance ≥ 0 and ≤ 1")


def _depth(text: str) -> int:
    return _whole(text, 0)


def _depth_or_all(text: str) -> int | str | None:
    if text in ("all", "auto"):
        return None if text == "all" else text
    return _whole(text, 0)


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad flag exiting 1 like every other user error (argparse's own is 2)."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def _side_by_side_args(p: argparse.ArgumentParser, steps: tuple[int, int], every: int | None) -> None:
    """The arguments of the commands that train several networks on the same batches (gradflow, race)."""
    default, least = steps
    p.add_argument("networks", nargs="+", metavar="FILE|NAME", help="one or more classifiers")
    p.add_argument("--steps", type=_at_most(100_000, least), default=default, metavar="N",
                   help=f"training steps (default {default}" + ("; 0: at initialization only)" if least == 0 else ")"))
    p.add_argument("--every", type=_positive, default=every, metavar="K",
                   help=f"measure every K steps (default {every})" if every else "also measure every K steps")
    p.add_argument("--data", default="digits", metavar="digits|PATH", help="as for `cnndsl train` (default digits)")
    p.add_argument("--batch", type=_positive, default=32, metavar="N", help="batch size (default 32)")
    p.add_argument("--seed", type=_seed, default=0, help="seeds the weights and the order of the images")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cnndsl", description="Write a convolutional network as text, count what it costs, draw it, run it.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cnndsl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("check", help="parse and check a .cnn file, and its `expect` statements",
                       description="Parse and check a .cnn file: every independent error at once, and each "
                                   "`expect` statement against the network (exit 1 if one does not hold).")
    _network_arg(p)
    p.add_argument("--answers", action="store_true",
                   help="print what each `expect` should say (the network's values there) instead of failing")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("summary", help="per-layer table: output shape, params, MACs, receptive field")
    _network_arg(p)
    p.add_argument("--depth", type=_depth, default=None, metavar="N",
                   help="show block instances nested deeper than N as one row (0: top-level blocks only)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--batch", type=_positive, default=None, metavar="N",
                   help="also show the memory of a training step (Adam) and of inference at this batch size")
    p.add_argument("--columns", default=None, metavar="A,B,…",
                   help="the columns after layer and op, in order: input, output, params, params%%, macs, flops, "
                        "memory, train (needs --batch), rf, kernel (default: output,params,macs,rf)")
    p.add_argument("--plot", metavar="OUT.png",
                   help="draw each layer's parameters and MACs side by side (blocks folded below --depth)")
    p.add_argument("--args", action="store_true",
                   help="one row per block instance, its arguments in columns named after the block's parameters "
                        "(GoogLeNet's Table 1); blocks nested deeper than --depth (default 0) fold")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("explain", help="the arithmetic behind one layer's or block's numbers, or the totals",
                       description="Show how each number of a layer or block instance is worked out, with the "
                                   "values put in: output size, parameters, MACs, FLOPs, receptive field and jump, "
                                   "memory. Without LAYER (or with --totals), the network's totals.")
    _network_arg(p)
    p.add_argument("layer", nargs="?", metavar="LAYER", help="a layer or block instance, by name (see `cnndsl summary`)")
    p.add_argument("--totals", action="store_true", help="explain the network's totals")
    p.add_argument("--json", action="store_true", help="print the steps as JSON")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("compare", help="networks side by side: params, MACs, memory, depth, receptive field",
                       description="Compare networks: parameters (all, and at inference), MACs, FLOPs, activation "
                                   "memory, the memory of a training step at --batch, depth, receptive field and "
                                   "output shape. --layers aligns them layer by layer (by block and position).")
    p.add_argument("networks", nargs="+", metavar="FILE|NAME", help="two or more .cnn files or shipped architectures")
    p.add_argument("--batch", type=_positive, default=32, metavar="N",
                   help="batch size for the training-memory row (default 32)")
    p.add_argument("--layers", action="store_true", help="also align the networks layer by layer")
    p.add_argument("--differences", action="store_true", help="with --layers: only the positions that differ")
    p.add_argument("--plot", metavar="OUT.png", help="draw grouped bars of the costs and a params-vs-MACs scatter")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("gradflow", help="the gradient's norm layer by layer, at initialization and after training",
                       description="For each weight layer of the main path, from the input to the output: the norm of "
                                   "its weight gradient and of the gradient of the activation it reads, at "
                                   "initialization and after --steps steps of Adam on --data. Every network sees "
                                   "the same images and labels.")
    _side_by_side_args(p, steps=(100, 0), every=None)
    p.add_argument("--lr", type=_rate, default=1e-3, help="Adam's learning rate (default 1e-3)")
    p.add_argument("-o", "--output", metavar="FLOW.png", help="plot the norms (log scale) and the loss curves")
    p.add_argument("--layers", action="store_true", help="print every layer's norms, not one line per network")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.set_defaults(func=cmd_gradflow)

    p = sub.add_parser("show", help="draw one image's feature maps and each conv layer's filters",
                       description="For one test image: the input, each conv layer's first filters and the feature "
                                   "maps they make (after the layer's activation), and the network's answer. Use the "
                                   "weights of a trained network (`cnndsl train … --save-weights W.npz`).")
    _network_arg(p)
    p.add_argument("-o", "--output", required=True, metavar="MAPS.png", help="the picture to write")
    p.add_argument("--weights", metavar="W.npz", help="trained weights (without: fresh random ones, and a note)")
    p.add_argument("--image", type=_whole_or_zero, default=0, metavar="K", help="which test image (default 0)")
    p.add_argument("--data", default="digits", metavar="digits|PATH", help="as for `cnndsl train` (default digits)")
    p.add_argument("--maps", type=_at_most(32), default=8, metavar="N", help="filters and maps per layer (default 8)")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("race", help="train networks side by side: accuracy against step and against seconds",
                       description="Train several classifiers on the same batches (Adam) and measure, every --every "
                                   "steps, the accuracy on the validation images and on training images: which "
                                   "learns faster per step and per second, and how wide the train/validation gap is.")
    _side_by_side_args(p, steps=(300, 1), every=25)
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help="adam (default) or sgd with momentum 0.9")
    p.add_argument("--lr", type=_rate, default=None, help="learning rate (default 1e-3 for adam, 0.01 for sgd)")
    p.add_argument("-o", "--output", metavar="RACE.png", help="plot the accuracy curves")
    p.add_argument("--json", action="store_true", help="print the measurements as JSON")
    p.set_defaults(func=cmd_race)

    p = sub.add_parser("export", help="write the network as ONNX (Netron, ONNX Runtime, …) or PyTorch source",
                       description="--to onnx: the inference graph (aux heads dropped; a trailing softmax kept) as an "
                                   "ONNX model with the network's weights: --weights, or fresh ones from --seed. Node "
                                   "and tensor names are the graph's; the model passes onnx.checker with full shape "
                                   "inference. Needs `pip install 'cnndsl[onnx]'`. --to pytorch: readable PyTorch "
                                   "source, one nn.Module class per block definition, parameter names equal to "
                                   "cnndsl's weight keys (the file's load_weights(model, 'W.npz') loads cnndsl's "
                                   "weights).")
    _network_arg(p)
    p.add_argument("--to", choices=("onnx", "pytorch"), default="onnx", help="the format (default onnx)")
    p.add_argument("-o", "--output", required=True, metavar="NET.onnx|NET.py", help="the file to write")
    p.add_argument("--weights", metavar="W.npz", help="ONNX: the weights (without: fresh ones from --seed, and a note)")
    p.add_argument("--seed", type=_seed, default=None, help="ONNX: seeds fresh weights (default 0)")
    p.add_argument("--batch", default=None, metavar="dynamic|N", type=_batch_dim,
                   help="ONNX: the batch dimension: dynamic (default, named N) or a fixed size")
    p.add_argument("--opset", type=_at_most(30, 17), default=None, metavar="K",
                   help="ONNX: the opset, 17 or newer (default 17)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("serve", help="the playground: edit a network in the browser, see it drawn and counted",
                       description="Start a local web app: an editor for .cnn text, with the diagram, the per-layer "
                                   "table and the totals updated as you type, mistakes marked on their lines, and "
                                   "a button that trains a small network on the built-in digits. Listens on "
                                   "127.0.0.1 unless --host says otherwise. Needs `pip install 'cnndsl[serve]'`.")
    p.add_argument("network", nargs="?", metavar="FILE|NAME", help="the network to open (default: the last one edited)")
    p.add_argument("--port", type=_port, default=8000, help="the port (default 8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1, this machine only)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("import", help="read an ONNX model back as .cnn text (and its weights)",
                       description="Turn an ONNX model of a CNN into .cnn text — one statement per node, labels and "
                                   "`add @a` / `concat @a @b` where branches meet — and its weights into an .npz under "
                                   "cnndsl's keys. Needs `pip install 'cnndsl[onnx]'`.")
    p.add_argument("model", metavar="MODEL.onnx", help="the ONNX file")
    p.add_argument("-o", "--output", required=True, metavar="NET.cnn", help="the .cnn file to write")
    p.add_argument("--weights-out", metavar="W.npz", help="also write the weights")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("lessons", help="list the lessons, or build them (their outputs and figures)",
                       description="The lessons of docs/lessons/: each question answered by cnndsl commands, their "
                                   "outputs and a figure. --build runs every command of the lessons' sources and "
                                   "writes the lessons and their figures.")
    p.add_argument("--build", action="store_true", help="run the lessons' commands and write the lessons")
    p.add_argument("--dir", default="docs/lessons", metavar="DIR", help="the lessons' folder (default docs/lessons)")
    p.add_argument("only", nargs="*", metavar="NN", help="build only these lessons (by number, e.g. 05)")
    p.set_defaults(func=cmd_lessons)

    p = sub.add_parser("list", help="the shipped architectures with their sizes")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("render", help="draw the network: .svg, .png, .pdf or .dot",
                       description="Draw the network as a textbook-style diagram. The format is taken from "
                                   "the output file's extension; all but .dot need Graphviz's `dot` program.")
    _network_arg(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the file to write: x.svg, x.png, x.pdf, x.dot")
    p.add_argument("--depth", type=_depth_or_all, default="auto", metavar="N|all",
                   help="fold block instances nested N deep into one node (0: one node per top-level block); "
                        "all: every layer; default: every layer, unless the figure would be taller than "
                        f"{MAX_RANKS} boxes — then the blocks fold, and a note says so")
    p.add_argument("--rankdir", choices=("TB", "LR"), default="TB", help="top to bottom (default) or left to right")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("run", help="run a batch forward (and backward), timed layer by layer",
                       description="Run the network on a batch (random, seeded, unless --input is given) with "
                                   "fresh seeded weights or --weights; with --backward, --grad-output or "
                                   "--save-grads also run backward. Times are medians over --repeat runs after "
                                   "one warm-up run.")
    _network_arg(p)
    p.add_argument("--batch", type=_positive, default=1, metavar="N", help="batch size for a random input (default 1)")
    p.add_argument("--mode", choices=("eval", "train"), default="eval",
                   help="train: batch statistics, dropout and aux heads (default eval)")
    p.add_argument("--seed", type=_seed, default=0, help="seeds the weights, the random input, dropout and labels")
    p.add_argument("--input", metavar="X.npy", help="the input batch, float32 (N, C, H, W)")
    p.add_argument("--weights", metavar="W.npz", help="load weights (see --save-weights for the format)")
    p.add_argument("--save-weights", metavar="W.npz", help="save the weights (and batch-norm running statistics)")
    p.add_argument("--output", metavar="Y.npy", help="save the network's output")
    p.add_argument("--grad-output", metavar="DY.npy", help="back-propagate this gradient of the output")
    p.add_argument("--save-grads", metavar="G.npz", help="save every parameter's gradient, and `input`'s")
    p.add_argument("--backward", action="store_true",
                   help="run backward too (softmax-cross-entropy on random labels unless --grad-output)")
    p.add_argument("--kernels", choices=("fast", "reference"), default="fast",
                   help="reference: the plain-loop kernels of cnndsl/kernels/reference/ (slow, to be read)")
    p.add_argument("--repeat", type=_at_most(1000), default=1, metavar="K", help="timed runs; medians are reported")
    p.add_argument("--json", action="store_true", help="print the timings as JSON")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("gradcheck", help="check the analytic gradients against float64 finite differences")
    _network_arg(p)
    p.add_argument("--batch", type=_positive, default=2, metavar="N", help="batch size (default 2)")
    p.add_argument("--mode", choices=("eval", "train"), default="train", help="default train")
    p.add_argument("--samples", type=_at_most(10_000), default=6, metavar="K", help="entries checked per tensor (default 6)")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--weights", metavar="W.npz", help="check at these weights instead of fresh ones")
    p.add_argument("--kernels", choices=("fast", "reference"), default="fast", help="which kernels to check")
    p.add_argument("--tolerance", type=_tolerance, default=1e-4, help="largest relative error accepted (default 1e-4)")
    p.set_defaults(func=cmd_gradcheck)

    p = sub.add_parser("train", help="train on the built-in digits, MNIST files or an .npz",
                       description="Train the network with softmax-cross-entropy (aux heads weighted). The default "
                                   "data are scikit-learn's 8×8 digits, resized to the input; the defaults train "
                                   "LeNet-5 to ≥ 97 %% test accuracy in 10 epochs.")
    _network_arg(p)
    p.add_argument("--data", default="digits", metavar="digits|PATH",
                   help="`digits` (default), a folder of MNIST IDX files (gzip or not), or an .npz with x and y")
    p.add_argument("--epochs", type=_at_most(10_000), default=10, metavar="N", help="default 10")
    p.add_argument("--batch-size", type=_positive, default=16, metavar="B", help="default 16")
    p.add_argument("--lr", type=_rate, default=None, help="learning rate (default 2e-3 for adam, 0.01 for sgd)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="adam", help="default adam")
    p.add_argument("--momentum", type=_momentum, default=0.9, metavar="M", help="SGD momentum (default 0.9)")
    p.add_argument("--weight-decay", type=_decay, default=0.0, metavar="WD", help="L2 penalty (default 0)")
    p.add_argument("--lr-step", type=_depth, default=None, metavar="EPOCHS",
                   help="multiply the rate by 0.1 every EPOCHS epochs (default: once, at 60%% of the epochs; 0: never)")
    p.add_argument("--augment", type=_depth, default=None, metavar="PIXELS",
                   help="random shifts of up to PIXELS (default: a 16th of the input size; 0: none)")
    p.add_argument("--checkpoint", metavar="CKPT.npz", help="save a checkpoint after every epoch (and on Ctrl-C)")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint at its next epoch")
    p.add_argument("--seed", type=_seed, default=0, help="seeds the weights, the shuffling, augmentation and dropout")
    p.add_argument("--metrics", metavar="OUT.json", help="write the per-epoch metrics and the test accuracy")
    p.add_argument("--plot", metavar="CURVES.png", help="plot loss and accuracy against the epoch")
    p.add_argument("--save-weights", metavar="W.npz", help="save the trained weights")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("gallery", help="regenerate the SVG of every shipped architecture")
    p.add_argument("folder", nargs="?", default="docs/gallery", help="where to write them (default: docs/gallery)")
    p.set_defaults(func=cmd_gallery)

    p = sub.add_parser("warm", help="compile every kernel now, over the cores, so that no later run waits",
                       description="Compile every numba kernel into numba's cache (NUMBA_CACHE_DIR if set), "
                                   "running small networks that reach every kernel in one process per core. "
                                   "Once after installing: afterwards no run compiles.")
    p.add_argument("--jobs", type=_positive, metavar="N", help="processes (default: one per core)")
    p.set_defaults(func=cmd_warm)
    return parser


def _console():
    """Rich output; when piped, wide enough that tables are never cut."""
    from rich.console import Console  # only the commands that print tables and progress need rich
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def load(name: str) -> Network:
    """The network, its notes printed on stderr (a label read before its activation, say)."""
    net = load_network(name)
    for note in net.notes:
        print(str(note), file=sys.stderr)
    return net


def cmd_check(args) -> int:
    if args.answers:
        return _answers(load_network(args.network, expectations=False))
    net = load(args.network)
    held = f", all {len(net.expectations)} expected values hold" if net.expectations else ""
    print(f"ok: {args.network} — {net.name}: {len(net.layers)} layers, {net.param_count:,} params, "
          f"{net.macs:,} MACs{held}")
    from .engine.memory import available_bytes
    weights, have = 4 * net.param_count, available_bytes()
    if weights > 0.85 * have:
        print(f"note: its weights alone need {human(weights, 'B')}, more than the {human(have, 'B')} of memory "
              "available here: it can be counted and drawn, not run", file=sys.stderr)
    return 0


def _answers(net: Network) -> int:
    """Each `expect` statement as it should read, at its file:line:col; a wrong value is marked."""
    from .graph.build import show_expected
    if not net.expectations:
        print(f"{net.source}: no `expect` statements", file=sys.stderr)
        return 0
    groups: list[list[dict]] = []  # one per `expect` statement as run (a block's, once per call)
    for e in net.expectations:
        if groups and groups[-1][0]["statement"] is e["statement"] and e["key"] not in {g["key"] for g in groups[-1]}:
            groups[-1].append(e)
        else:
            groups.append([e])
    repeated = {g[0]["statement"].line for g in groups if sum(h[0]["statement"] is g[0]["statement"] for h in groups) > 1}
    for items in groups:
        at = items[0]["statement"]
        said = " ".join(f"{e['key']}={show_expected(e['key'], e['actual'])}" for e in items)
        notes = [f"{e['key']} was {show_expected(e['key'], e['expected'])}" for e in items if not e["holds"]]
        if at.line in repeated:
            notes.insert(0, f"after {items[0]['node']}")
        print(f"{at.file}:{at.line}:{at.column}: expect {said}" + (f"   # {'; '.join(notes)}" if notes else ""))
    return 0


def cmd_summary(args) -> int:
    from .summary import DEFAULT_COLUMNS, parse_columns
    columns = parse_columns(args.columns) if args.columns else DEFAULT_COLUMNS
    if "train" in columns and not args.batch:
        raise CnnError("--columns train needs --batch N: the memory of a training step depends on the batch")
    if args.plot:
        from .plots import formats
        check_outputs([(args.plot, "--plot", formats())])
    net = load(args.network)
    if args.plot:
        from .teach.compare import plot_layers
        plot_layers(net, args.plot, args.depth)
        print(f"wrote {args.plot}", file=sys.stderr)
    from .summary import args_table, args_text, print_summary, summary_json
    if args.args:
        if args.json:
            print(json.dumps(args_table(net, args.depth or 0), indent=1))
        else:
            print(args_text(net, args.depth or 0), end="")
        return 0
    if args.json:
        print(summary_json(net, args.batch))
        return 0
    print_summary(net, _console(), args.depth, args.batch, columns)
    return 0


def cmd_explain(args) -> int:
    from .teach.explain import explain, explain_json, explain_text
    if args.totals and args.layer:
        raise CnnError("give a LAYER or --totals, not both")
    result = explain(load(args.network), None if args.totals else args.layer)
    print(json.dumps(explain_json(result), indent=2) if args.json else explain_text(result), end="" if not args.json else "\n")
    return 0


def cmd_compare(args) -> int:
    from .plots import formats
    if args.plot:
        check_outputs([(args.plot, "--plot", formats())])
    nets = [load(n) for n in args.networks]
    from .teach.compare import compare, compare_text, layer_rows, layers_text, plot
    result = compare(nets, args.batch)
    rows = layer_rows(nets) if args.layers or args.json else None
    if args.json:
        print(json.dumps(result | {"layers": rows}, indent=1))
    else:
        print(compare_text(result), end="")
        if args.layers:
            print()
            print(layers_text(nets, rows, args.differences), end="")
    if args.plot:
        plot(result, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _side_by_side(args) -> list[Network]:
    """gradflow's and race's networks, each checked to fit a training step at --batch; --output checked."""
    from .plots import formats
    check_outputs([(args.output, "--output", formats() if args.output else None)])
    nets = [load(n) for n in args.networks]
    for net in nets:
        net.check_memory(args.batch, mode="train", backward=True, optimizer="adam")
    return nets


def cmd_gradflow(args) -> int:
    nets = _side_by_side(args)
    from .teach.gradflow import flow_summary, flow_text, gradflow, plot
    flows = gradflow(nets, args.steps, args.data, args.batch, args.lr, args.seed, args.every)
    if args.json:
        print(json.dumps({"steps": args.steps, "batch": args.batch, "networks": [f.to_dict() for f in flows]}))
    else:
        print((flow_text if args.layers else flow_summary)(flows, args.steps), end="")
    if args.output:
        plot(flows, args.output, args.steps)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_show(args) -> int:
    from .plots import formats
    check_outputs([(args.output, "--output", formats())])
    net = load(args.network)
    from .teach.show import show
    from .training.data import load_data
    if args.weights:
        net.load_weights(args.weights)
    else:
        net.init(0)
        print("note: no --weights: the filters are random (train first: `cnndsl train NET --save-weights W.npz`)",
              file=sys.stderr)
    data = load_data(args.data, net.input_shape, net.output_shape[0])
    if args.image >= len(data.test.y):
        raise CnnError(f"--image {args.image}: the test set has {len(data.test.y)} images (0…{len(data.test.y) - 1})")
    drawn = show(net, data.test.x[args.image], int(data.test.y[args.image]), args.output, args.maps)
    print(f"test image {args.image}: label {drawn['label']}, answer {drawn['answer']} "
          f"({100 * drawn['probability']:.1f} %); {len(drawn['layers'])} conv layers drawn")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_race(args) -> int:
    nets = _side_by_side(args)
    from .teach.race import plot, race, race_text
    runs = race(nets, args.steps, args.every, args.data, args.batch, args.lr, args.seed, args.optimizer)
    print(json.dumps({"networks": [r.to_dict() for r in runs]}) if args.json else race_text(runs), end="\n" if args.json else "")
    if args.output:
        plot(runs, args.output)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    if args.to == "pytorch":
        return _export_pytorch(args)
    check_outputs([(args.output, "--output", (".onnx",))])
    from .export.onnx import need_onnx, save_onnx
    need_onnx()
    net = load(args.network)
    seed = 0 if args.seed is None else args.seed
    if args.weights:
        net.load_weights(args.weights)
    else:
        net.init(seed)
        print(f"note: no --weights: fresh weights from seed {seed}", file=sys.stderr)
    batch = "N" if args.batch in (None, "dynamic") else args.batch
    opset = args.opset or 17
    save_onnx(net, args.output, batch, opset)
    dropped = f", {len(net.aux_heads)} aux head{'s' if len(net.aux_heads) != 1 else ''} dropped" if net.aux_heads else ""
    print(f"wrote {args.output}: {net.name}, opset {opset}, {net.inference_param_count:,} parameters{dropped}")
    return 0


def _export_pytorch(args) -> int:
    for flag, value in (("--weights", args.weights), ("--seed", args.seed), ("--batch", args.batch),
                        ("--opset", args.opset)):
        if value is not None:
            hint = ("the .py holds no weights: load yours in Python with load_weights(model, 'W.npz')"
                    if flag == "--weights" else "it applies to --to onnx")
            raise CnnError(f"{flag} has no meaning with --to pytorch", hint=hint)
    check_outputs([(args.output, "--output", (".py",))])
    from .export.pytorch import save_source
    net = load(args.network)
    top = save_source(net, args.output)
    print(f"wrote {args.output}: class {top} ({net.param_count:,} parameters); "
          f"load cnndsl's weights with load_weights(model, 'W.npz')")
    return 0


def cmd_serve(args) -> int:
    from .serve.run import need_server, serve
    need_server()
    text = name = None
    if args.network:
        from .network import decode, resolve
        path = resolve(args.network)
        text, name = decode(path.read_bytes(), str(path)), path.stem
    try:
        serve(text, name, args.host, args.port)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_import(args) -> int:
    check_outputs([(args.output, "--output", (".cnn",)), (args.weights_out, "--weights-out", (".npz",) if args.weights_out else None)])
    from .export.onnx_import import import_file
    net, _ = import_file(args.model, args.output, args.weights_out)
    print(f"wrote {args.output}: {net.name}, {len(net.layers)} layers, {net.param_count:,} params, {net.macs:,} MACs"
          + (f"; weights in {args.weights_out}" if args.weights_out else ""))
    return 0


def cmd_lessons(args) -> int:
    from pathlib import Path

    from .teach.lessons import build, sources
    folder = Path(args.dir)
    if not args.build:
        for src in sources(folder):
            title = next((line.lstrip("# ").strip() for line in src.read_text().splitlines() if line.startswith("# ")), "")
            print(f"{src.stem:<28} {title}")
        return 0
    times = build(folder, args.only or None, log=lambda line: print(line, file=sys.stderr))
    print(f"built {len(times)} lessons in {sum(times.values()):.0f} s")
    return 0


def cmd_list(args) -> int:
    from rich.table import Table
    table = Table(title="Shipped architectures (use the name wherever a FILE is expected)", title_justify="left")
    for col, justify in (("name", "left"), ("network", "left"), ("input", "right"), ("params", "right"),
                         ("MACs", "right"), ("what", "left")):
        table.add_column(col, justify=justify)
    for name, path in shipped_architectures().items():
        net: Network = load_network(name)
        first = path.read_text().splitlines()[0].lstrip("# ")
        table.add_row(name, net.name, "×".join(map(str, net.input_shape)), f"{net.param_count:,}", f"{net.macs:,}",
                      first.split(" — ")[0].split(",")[0])
    _console().print(table)
    return 0


def cmd_render(args) -> int:
    from .render.dot import FORMATS, render
    check_outputs([(args.output, "-o", tuple(f".{f}" for f in FORMATS))])
    net = load(args.network)
    depth = args.depth
    if depth == "auto":
        depth = auto_depth(net)
        if depth is not None:
            print(f"note: every layer of {net.name} makes a figure more than {MAX_RANKS} boxes tall; drawn with "
                  f"--depth {depth} (--depth all draws every layer)", file=sys.stderr)
    out = render(net, args.output, depth, args.rankdir)
    print(f"wrote {out}")
    return 0


def cmd_gallery(args) -> int:
    from .render.gallery import write_gallery
    for path in write_gallery(args.folder):
        print(f"wrote {path}")
    return 0


def cmd_warm(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .warm import UNITS, warm
    console = Console(stderr=True)
    with Progress(TextColumn("compiling kernels"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console, transient=True,
                  disable=not console.is_terminal) as bar:
        task = bar.add_task("", total=len(UNITS))
        report = warm(args.jobs, lambda name, kernels, seconds: bar.update(task, advance=1, description=f"✓ {name}"))
    print(f"compiled {report.kernels} kernels in {report.wall_s:.1f} s ({report.compile_s:.1f} s of compiling "
          f"over {report.jobs} process{'es' if report.jobs > 1 else ''}); later runs load them from the cache")
    return 0


def _weights(net, path: str | None, seed: int) -> None:
    if path:
        net.load_weights(path)
    else:
        net.init(seed)


def cmd_run(args) -> int:
    from .engine import ahead
    from .engine.runner import load_array, run
    check_outputs([(args.output, "--output", None), (args.save_weights, "--save-weights", None),
                   (args.save_grads, "--save-grads", None)])
    backward = args.backward or bool(args.save_grads) or bool(args.grad_output)
    helper = None
    try:
        path = resolve(args.network)
    except CnnError:  # said by load below
        path = None
    if path is not None and path.is_file() and not args.input:  # (a batch from a file: its size comes later)
        helper = ahead.for_run(str(path), args.batch, args.mode, backward, bool(args.save_grads),
                               not args.grad_output, args.kernels)
    try:
        net = load(args.network)
        x = load_array(args.input, "input") if args.input else None
        dy = load_array(args.grad_output, "output gradient") if args.grad_output else None
        net.check_memory(x.shape[0] if x is not None and x.ndim else args.batch, args.mode, backward)
        _weights(net, args.weights, args.seed)
        net.kernels = args.kernels
        result = run(net, args.batch, args.mode, args.seed, x, dy, backward, args.repeat,
                     input_grad=bool(args.save_grads), after_first=helper.stop if helper else None)
    finally:
        if helper is not None:
            helper.stop()
    if result.note:
        print(result.note, file=sys.stderr)
    if args.output:
        write_npy(args.output, net.outputs[net.output], "--output")
    if args.save_grads:
        grads = {"input": net.input_grad} | net.grads
        write_npz(args.save_grads, grads, "--save-grads")
    if args.save_weights:
        net.save_weights(args.save_weights)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    from .engine.report import print_run
    print_run(net, result, _console())
    return 0


def cmd_gradcheck(args) -> int:
    from .engine.gradcheck import gradcheck
    net = load(args.network)
    _weights(net, args.weights, args.seed)
    checks = gradcheck(net, batch=args.batch, mode=args.mode, samples=args.samples, seed=args.seed,
                       kernels=args.kernels)
    worst = max(c.worst for c in checks)
    for c in checks:
        flag = "ok " if c.worst <= args.tolerance else "BAD"
        kinks = f", {c.kinks} at a kink skipped" if c.kinks else ""
        print(f"{flag} {c.key:<40} worst relative error {c.worst:.2e} ({c.checked} entries{kinks})")
    verdict = "passed" if worst <= args.tolerance else "FAILED"
    print(f"gradcheck {verdict}: worst {worst:.2e}, tolerance {args.tolerance:g} "
          f"({len(checks)} tensors, float64 central differences, mode {args.mode})")
    return 0 if worst <= args.tolerance else 1


def cmd_train(args) -> int:
    from .engine import ahead
    from .training.data import load_data
    from .plots import formats as plot_formats
    from .training.trainer import TrainConfig, check_trainable, plot, train, write_metrics
    if args.resume and not args.checkpoint:
        raise CnnError("--resume needs --checkpoint PATH", hint="the checkpoint to continue from")
    check_outputs([(args.metrics, "--metrics", None), (args.plot, "--plot", plot_formats() if args.plot else None),
                   (args.checkpoint, "--checkpoint", None), (args.save_weights, "--save-weights", None)])
    net = load(args.network)
    check_trainable(net)
    side = min(net.input_shape[1:])
    if args.augment is not None and args.augment > side // 2:
        raise CnnError(f"--augment {args.augment} shifts the {side}-pixel input by more than half its size",
                       hint=f"use at most {side // 2} (default {net.input_shape[1] // 16})")
    net.check_memory(args.batch_size, "train", True, optimizer=args.optimizer)
    console = _console()
    data = load_data(args.data, net.input_shape, net.output_shape[0])
    console.print(f"{net.name}: {net.param_count:,} params; {data.describe()}")
    for note in data.adapted(net.input_shape, net.output_shape[0]):
        console.print(note)
    lr = args.lr if args.lr is not None else (2e-3 if args.optimizer == "adam" else 0.01)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=lr, optimizer=args.optimizer,
                      momentum=args.momentum, weight_decay=args.weight_decay, lr_step=args.lr_step,
                      seed=args.seed, augment=args.augment, checkpoint=args.checkpoint, resume=args.resume)
    helper = ahead.for_run(str(resolve(args.network)), args.batch_size, "train", True, False, True)
    try:  # the helper compiles the first step's kernels from the other end, then exits on its own
        history = train(net, data, cfg, console)
    finally:
        if helper is not None:
            helper.stop()
    if args.metrics:
        write_metrics(args.metrics, history)
        console.print(f"wrote {args.metrics}")
    if args.plot:
        plot(args.plot, history, f"{net.name} on {data.name}")
        console.print(f"wrote {args.plot}")
    if args.save_weights:
        net.save_weights(args.save_weights)
        console.print(f"wrote {args.save_weights}")
    return 0


def check_environment() -> None:
    """The variables cnndsl reads, checked before any command runs."""
    from .threads import threads_from_env
    threads_from_env()


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        check_environment()
        from .engine import ahead
        from .kernels import lazy
        lazy.ANNOUNCE = True
        ahead.ENABLED = True  # a run that has to compile gets a helper process on the second core
        return args.func(args)
    except CnnError as e:
        print(str(e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug in cnndsl, not the user's mistake: say so briefly
        if os.environ.get("CNNDSL_DEBUG"):
            raise
        print(f"internal error: {type(e).__name__}: {e}\n"
              "this is a bug in cnndsl; run again with CNNDSL_DEBUG=1 for the traceback", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
