"""The Network: a parsed, expanded and checked .cnn file — its graph, its totals, its views."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import networkx as nx

from .errors import CnnError, Source, SourcePosition, clip, suggest
from .graph.build import build
from .graph.node import Node
from .language.parser import normalize
from .language.parser import parse as parse_program
from .resources import shipped_architectures


KERNEL_TIERS = ("fast", "reference")


class Network:
    """One network: `.graph` is the networkx DiGraph (one node per layer, in source order).

    Totals are per sample (batch 1): param_count, inference_param_count (aux heads excluded), macs,
    inference_macs, flops, activation_bytes (float32 outputs of every layer). `params` and `grads`
    are the weights and their gradients once the network has been initialized or loaded.
    """

    def __init__(self, graph: nx.DiGraph, source: str = "<string>"):
        self.graph = graph
        self.source = source
        self.name: str = graph.graph["name"]
        self.input_shape: tuple[int, ...] = graph.graph["input_shape"]
        self.output: str = graph.graph["output"]
        self.aux_heads: list[dict] = graph.graph["aux_heads"]

    @property
    def notes(self) -> list:
        """Things worth saying about the file that are not errors (CnnError objects, each with a place)."""
        return self.graph.graph.get("notes", [])

    # ---- totals ----------------------------------------------------------------------------------
    @cached_property
    def layers(self) -> list[str]:
        """Layer nodes in source order (every node is added after its inputs: a topological order)."""
        return [n for n in self.graph if n != "input"]

    @property
    def expectations(self) -> list[dict]:
        """Every `expect` item of the file, in order: {pos, key, expected, actual, holds, node}."""
        return self.graph.graph["expectations"]

    def node(self, name: str) -> Node:
        """One layer's Node (op, resolved arguments, shape, parameters, costs, source span, blocks, role)."""
        try:
            return self.graph.nodes[name]["node"]
        except KeyError:
            raise CnnError(f"no layer named '{clip(name)}'{suggest(name, self.graph)}",
                           hint="`cnndsl summary` lists the layers' names") from None

    @cached_property
    def _sums(self) -> dict[tuple[str, bool], int]:
        """Every total in one pass over the nodes: (key, inference only) → sum."""
        keys = ("n_params", "macs", "flops", "act_bytes")
        sums = dict.fromkeys([(k, i) for k in keys for i in (False, True)], 0)
        for node, data in self.graph.nodes(data="node"):
            if node == "input":
                continue
            for k in keys:
                value = getattr(data, k)
                sums[k, False] += value
                if not data.train_only:
                    sums[k, True] += value
        return sums

    def _sum(self, key: str, inference: bool = False) -> int:
        return self._sums[key, inference]

    @property
    def param_count(self) -> int:
        return self._sum("n_params")

    @property
    def inference_param_count(self) -> int:
        return self._sum("n_params", inference=True)

    @property
    def macs(self) -> int:
        return self._sum("macs")

    @property
    def inference_macs(self) -> int:
        return self._sum("macs", inference=True)

    @property
    def flops(self) -> int:
        return self._sum("flops")

    @property
    def activation_bytes(self) -> int:
        return self._sum("act_bytes")

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.graph.nodes[self.output]["node"].shape

    def totals(self) -> dict[str, int]:
        return {"params": self.param_count, "inference_params": self.inference_param_count, "macs": self.macs,
                "flops": self.flops, "activation_bytes": self.activation_bytes}

    # ---- views -----------------------------------------------------------------------------------
    def summary(self, depth: int | None = None, width: int = 110, columns: tuple[str, ...] | None = None,
                batch: int | None = None) -> str:
        """The per-layer table with block subtotals and a totals footer: a str that prints as the text
        table and shows as an HTML table in a notebook. columns: any of input, output, params, params%,
        macs, flops, memory, train (with batch), rf, kernel."""
        from .summary import DEFAULT_COLUMNS, Summary, summary_html, summary_text
        columns = tuple(columns or DEFAULT_COLUMNS)
        return Summary(summary_text(self, depth=depth, width=width, columns=columns, batch=batch),
                       lambda: summary_html(self, depth, columns, batch))

    def to_dict(self) -> dict:
        """The summary as JSON-ready data (the format of `cnndsl summary --json`)."""
        from .summary import summary_dict
        return summary_dict(self)

    def diagram(self, depth: int | None = None, rankdir: str = "TB"):
        """The graphviz.Digraph of the network (see cnndsl/render/dot.py)."""
        from .render.dot import diagram
        return diagram(self, depth, rankdir)

    def render(self, out, depth: int | None = None, rankdir: str = "TB"):
        """Write the diagram to out (.svg, .png, .pdf or .dot)."""
        from .render.dot import render
        return render(self, out, depth, rankdir)

    def _repr_html_(self) -> str:
        """Jupyter shows a Network as its diagram (when Graphviz's `dot` is there) above its summary table."""
        from .summary import summary_html
        depth = 0 if len(self.layers) > 150 else None
        svg = self._repr_svg_()
        return (f"<div style='max-height:600px;overflow:auto'>{svg}</div>" if svg else "") + summary_html(self, depth)

    def _repr_svg_(self) -> str | None:
        """Jupyter shows a Network as its diagram (None, so the text repr, when `dot` is missing)."""
        import shutil
        if shutil.which("dot") is None:
            return None
        return self.diagram(depth=0 if len(self.layers) > 150 else None).pipe(format="svg").decode()

    # ---- execution -----------------------------------------------------------------------------
    @cached_property
    def engine(self):
        """The runnable state (parameters, gradients); see cnndsl/engine/executor.py."""
        from .engine.executor import Engine
        return Engine(self.graph)

    def footprint(self, batch: int = 1, mode: str = "train", backward: bool = True, optimizer: str | None = "adam"):
        """The memory estimate of a run (engine/memory.py): weights, gradients, optimizer state,
        activations at this batch size and workspace, in bytes (`.total`, `.describe()`)."""
        from .engine.memory import estimate
        return estimate(self.graph, self._running(mode), batch, backward, 4, optimizer,
                        reuse=mode == "eval" and not backward)

    def check_memory(self, batch: int, mode: str = "eval", backward: bool = False, optimizer: str | None = None):
        """Raise CnnError, with the figure and a batch that fits, if the run cannot fit in memory."""
        from .engine.memory import check
        return check(self.graph, self._running(mode), batch, backward, 4, optimizer,
                     reuse=mode == "eval" and not backward)

    def _running(self, mode: str) -> list[str]:
        return [n for n in self.layers if mode == "train" or not self.graph.nodes[n]["node"].train_only]

    @property
    def kernels(self) -> str:
        """Which kernels run the network: "fast" (the default) or "reference" (plain loops, to be read)."""
        return self.engine.kernels

    @kernels.setter
    def kernels(self, tier: str) -> None:
        if tier not in KERNEL_TIERS:
            raise CnnError(f"kernels must be one of {', '.join(KERNEL_TIERS)}, not {tier!r}")
        self.engine.kernels = tier

    def init(self, seed: int = 0) -> "Network":
        """Fresh, seeded weights (He before ReLU-family activations, Glorot otherwise)."""
        self.engine.init(seed)
        return self

    def forward(self, x, mode: str = "eval", grad: bool = True, seed: int | None = None):
        """The main output for a batch x of shape (N, C, H, W); mode "train" uses batch statistics,
        dropout (seeded by `seed`) and runs the aux heads. grad=False keeps nothing for backward;
        grad=True starts a new backward and empties `grads` (as PyTorch's zero_grad before a step)."""
        return self.engine.forward(x, mode=mode, grad=grad, seed=seed)

    def backward(self, dy=None, input_grad: bool = True, observe=None):
        """Back-propagate dy through the last forward (or, without dy, the last `loss`); returns the
        input's gradient (None with input_grad=False, which spares the first layer that work) and fills
        `grads`. observe(node, gradient) sees each layer's output gradient on the way (gradflow uses it)."""
        return self.engine.backward(dy, input_grad=input_grad, observe=observe)

    def activations(self, x, layers, mode: str = "eval") -> dict:
        """The outputs of the named layers for a batch x (inference by default), keeping nothing else."""
        missing = [n for n in layers if n not in self.graph or n == "input"]
        if missing:
            raise CnnError(f"no layer named '{clip(missing[0])}'{suggest(missing[0], self.layers)}")
        self.engine.forward(x, mode=mode, grad=False, keep=tuple(layers))
        kept = self.engine.kept
        self.engine.kept = {}
        return kept

    def logits(self, x, mode: str = "eval") -> "np.ndarray":
        """The main output's values before a trailing softmax (the class scores), keeping nothing."""
        self.engine.forward(x, mode=mode, grad=False)
        return self.engine.logits[self.output]

    @property
    def outputs(self) -> dict:
        """The last forward's outputs: the main output and, in training, each aux head's, by node."""
        return self.engine.outputs

    @property
    def input_grad(self):
        """The input's gradient from the last backward (None if it was not asked for)."""
        return self.engine.input_grad

    def backward_from(self, seeds: dict, input_grad: bool = True):
        """Back-propagate gradients of any outputs of the last forward: {node: gradient}."""
        return self.engine.backward_from(seeds, input_grad=input_grad)

    def state_dict(self) -> dict:
        """Weights and running statistics by key, as weights files hold them (PyTorch's layouts)."""
        return self.engine.state_dict()

    def load_state_dict(self, arrays: dict) -> "Network":
        self.engine.load_state_dict(arrays)
        return self

    def loss(self, x, labels, seed: int | None = None) -> float:
        """Training forward plus softmax-cross-entropy (aux heads added with their weights)."""
        return self.engine.loss(x, labels, seed=seed)

    @property
    def params(self) -> dict:
        return self.engine.flat("params")

    @property
    def grads(self) -> dict:
        return self.engine.flat("grads")

    @property
    def buffers(self) -> dict:
        """Running statistics of batch norm: saved with the weights, not trained."""
        return self.engine.flat("state")

    def save_weights(self, path):
        return self.engine.save(path)

    def load_weights(self, path) -> "Network":
        self.engine.load(path)
        return self

    def __repr__(self) -> str:
        return (f"<Network {self.name}: {len(self.layers)} layers, {self.param_count:,} params, "
                f"{self.macs:,} MACs>")


def parse(text: str, filename: str = "<string>", expectations: bool = True) -> Network:
    """Parse, expand and check .cnn text. Raises CnnError (with file:line:col) on any mistake; with
    expectations=False an `expect` that does not hold is only recorded (`net.expectations`)."""
    return Network(build(parse_program(text, filename), expectations), filename)


def load(path_or_name: str | Path, expectations: bool = True) -> Network:
    """A .cnn file by path, or a shipped architecture by name (`cnndsl.load("resnet50")`)."""
    path = resolve(path_or_name)
    if not path.is_file():
        raise CnnError(f"{path} is not a regular file", hint="give a .cnn text file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CnnError(f"{path} is {size:,} bytes; a .cnn file is at most {MAX_FILE_BYTES:,}",
                           hint="is this the right file?")
        raw = path.read_bytes()
    except OSError as e:
        raise CnnError(f"cannot read {path}: {e.strerror}") from None
    return parse(decode(raw, str(path)), str(path), expectations)


MAX_FILE_BYTES = 1 << 20  # 1 MB: the parser takes at most 128 K characters (language/parser.py)


def decode(raw: bytes, name: str) -> str:
    """UTF-8 text (a byte-order mark is dropped later); otherwise an error at the first bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        before = raw[:e.start]
        line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
        start = max(before.rfind(b"\n"), before.rfind(b"\r")) + 1
        column = len(before[start:].decode("utf-8", errors="replace")) + 1
        source = Source(name, normalize(raw.decode("utf-8", errors="replace")))
        raise CnnError(f"byte 0x{raw[e.start]:02x} is not UTF-8 text", SourcePosition(source, line, column),
                       "save the file as UTF-8 (most editors offer it under 'Save as' or 'Encoding')") from None


def resolve(path_or_name: str | Path) -> Path:
    """A path that exists, or the shipped architecture of that name."""
    path = Path(path_or_name)
    shipped = shipped_architectures()
    if path.exists():
        if path.is_dir():
            if str(path_or_name) in shipped:  # a folder that happens to share a shipped network's name
                return shipped[str(path_or_name)]
            raise CnnError(f"{path} is a folder, not a .cnn file")
        return path
    if str(path_or_name) in shipped:
        return shipped[str(path_or_name)]
    known = ", ".join(shipped)
    if path.suffix != ".cnn" and path.with_name(path.name + ".cnn").is_file():
        raise CnnError(f"no file or shipped architecture named '{clip(str(path_or_name))}'",
                       hint=f"did you mean the file {path.with_name(path.name + '.cnn')}?")
    raise CnnError(f"no file or shipped architecture named '{clip(str(path_or_name))}'{suggest(str(path_or_name), shipped)}",
                   hint=f"shipped architectures: {known}")
