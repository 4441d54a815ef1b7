"""A cnndsl network as readable PyTorch source (`cnndsl export NET --to pytorch -o net.py`).

One `nn.Module` class per block definition, its constructor taking the block's parameters; a class for
the network; `forward` written statement by statement, in the order of the `.cnn` file, a line of the file
one line of Python (`conv 64 3x3; bn; relu` → `x = F.relu(self.bn1(self.conv1(x)))`). Attribute paths are
the graph's node names, so parameter names are cnndsl's weight keys and `load_state_dict` takes cnndsl's
`.npz` (the file's `load_weights`).

How a class is found: every instance of a block is laid out with its concrete values (each layer's
`Op.torch_source` gives its constructor and arguments, cnndsl/ops/). Instances of one definition with the
same layout share a class when each argument can be written once for all of them — as the expression the
`.cnn` file wrote (`stride=stride`, `n3x3red`), the channels flowing in (`cin`, `ch`), or a constant. An
argument that cannot (a dense layer whose input size differs between calls, say) gives the definition a
second class, `Down2`, for the instances that differ. Every choice is checked against every instance, so the
source computes what the graph does; tests compare it with the engine and with hand-written twins.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import networkx as nx

from ..files import write_text
from ..language import ast
from ..ops import layer
from ..ops.base import TorchCall, TorchModule
from .names import fresh

_WORDS = {"true": True, "false": False, "same": "same", "valid": "valid"}
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "//": 2}


# ---- expressions of the .cnn file, as Python ---------------------------------------------------------

@dataclass(frozen=True)
class Expr:
    """Python source for a value and how to compute it from an instance's bindings (parameters, `cin`)."""

    src: str
    fn: Callable[[dict], Any]
    prec: int = 3  # binding strength of the outermost operator (3: an atom)


def literal(value) -> Expr:
    return Expr(show(value), lambda env: value)


def show(value) -> str:
    """A constructor argument as PyTorch reads it: (3, 3) → 3, True, 0.0005."""
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, tuple):
        return show(value[0]) if len(set(value)) == 1 else "(" + ", ".join(show(v) for v in value) + ")"
    if isinstance(value, float):
        return repr(float(f"{value:.12g}"))
    return repr(value)


def compile_expr(e, params: set[str]) -> Expr | None:
    """An AST expression over the block's parameters, or None when it cannot be written in Python."""
    if isinstance(e, ast.Num):
        return literal(e.value)
    if isinstance(e, ast.Size):
        return literal((e.h, e.w))
    if isinstance(e, ast.Name):
        if e.id in params:
            name = e.id
            return Expr(python_name(name), lambda env: env[name])
        return literal(_WORDS[e.id]) if e.id in _WORDS else None
    if isinstance(e, ast.Neg):
        inner = compile_expr(e.operand, params)
        if inner is None:
            return None
        src = inner.src if inner.prec >= 3 else f"({inner.src})"
        return Expr(f"-{src}", lambda env: -inner.fn(env), 3)
    if isinstance(e, ast.BinOp) and e.op in _PRECEDENCE:
        a, b = compile_expr(e.left, params), compile_expr(e.right, params)
        if a is None or b is None:
            return None
        p = _PRECEDENCE[e.op]
        left = a.src if a.prec >= p else f"({a.src})"
        right = b.src if b.prec > p else f"({b.src})"
        fns = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y, "//": lambda x, y: x // y}
        f = fns[e.op]
        return Expr(f"{left} {e.op} {right}", lambda env: f(a.fn(env), b.fn(env)), p)
    return None


def python_name(name: str) -> str:
    return name + "_" if keyword.iskeyword(name) or name in ("self", "F", "nn", "torch", "np") else name


def _same(got, want) -> bool:
    if isinstance(got, bool) != isinstance(want, bool):
        return False
    if isinstance(want, tuple) and not isinstance(got, tuple):
        got = (got,) * len(want)
    return got == want


def _holds(expr: Expr, envs: list[dict], values: list) -> bool:
    try:
        return all(_same(expr.fn(env), v) for env, v in zip(envs, values))
    except (KeyError, TypeError, ZeroDivisionError, ArithmeticError):
        return False


# ---- one block instance, laid out ------------------------------------------------------------------

@dataclass
class Item:
    """A layer of the instance, or a block it calls."""

    kind: str  # "layer" | "call"
    rel: str  # the attribute path below the instance: "conv1", "b2.conv1", "aux1.aux_head1"
    inputs: list[str]  # graph node names whose values it reads
    output: str  # the graph node whose value it gives
    scope: str  # the naming scope below the instance ("", "b1", "shortcut", "aux1")
    line: int
    aux: str | None  # the aux head it starts in this instance (relative name), if any
    node: Any = None  # the graph's Node (layers)
    child: str | None = None  # the called instance (calls)
    form: Any = None  # TorchModule | TorchCall (layers)


@dataclass
class Instance:
    name: str  # "" for the network
    block: str | None  # the definition's name
    env: dict  # the bound parameters and `cin`
    input: str
    output: str
    items: list[Item] = field(default_factory=list)
    cls: str | None = None
    call_args: dict = field(default_factory=dict)


class _Exporter:
    def __init__(self, net):
        self.net = net
        self.g: nx.DiGraph = net.graph
        self.program: ast.Program = self.g.graph["program"]
        self.defs = {b.name: b for b in self.program.blocks}
        self.stmts: dict[tuple[int, int], Any] = {}
        self._index(self.program.body)
        for b in self.program.blocks:
            self._index(b.body)
        self.instances = {"": None}
        self.instances.update({k: None for k in self.g.graph["blocks"]})
        self.classes: list[str] = []  # source of each class, children first
        self.class_names: set[str] = set()
        self.cin_classes: set[str] = set()  # the classes whose constructor takes `cin`

    def _index(self, stmts) -> None:
        for s in stmts:
            self.stmts[(s.pos.line, s.pos.column)] = s
            for body in _bodies(s):
                self._index(body)

    # ---- instances and their items -----------------------------------------------------------------
    def lay_out(self, name: str) -> Instance:
        g, info = self.g, self.g.graph["blocks"].get(name)
        members = [n for n in g if n != "input" and (name == "" or name in g.nodes[n]["node"].blocks)]
        inside = set(members)
        if name == "":
            entry, out = "input", g.graph["output"]
        else:
            entry = next(i for n in members for i in g.nodes[n]["node"].inputs if i not in inside)
            used_outside = [n for n in members if any(s not in inside for s in g.successors(n))]
            out = (used_outside[0] if used_outside else g.graph["output"] if g.graph["output"] in inside
                   else [n for n in members if not g.nodes[n]["node"].aux or g.nodes[n]["node"].aux == info["aux"]][-1])
        depth = g.nodes[members[0]]["node"].blocks.index(name) + 1 if name else 0
        prefix = name + "." if name else ""
        env = dict(info["args"]) if info else {}
        env["cin"] = g.nodes[entry]["node"].shape[0]
        inst = Instance(name, info["block"] if info else None, env, entry, out)
        called = set()
        for n in members:
            node = g.nodes[n]["node"]
            if len(node.blocks) == depth:
                rel = n[len(prefix):]
                form = node.impl.torch_source(node, [g.nodes[i]["node"].shape for i in node.inputs])
                inst.items.append(Item("layer", rel, list(node.inputs), n, node.scope[len(prefix):] if node.scope != name else "",
                                       node.pos.line, self._aux_here(node.aux, prefix), node=node, form=form))
            else:
                child = node.blocks[depth]
                if child in called:
                    continue
                called.add(child)
                cinfo = g.graph["blocks"][child]
                sub = self.instances[child]
                rel = child[len(prefix):]
                inst.items.append(Item("call", rel, [sub.input], sub.output, rel.rpartition(".")[0], cinfo["pos"].line,
                                       self._aux_here(cinfo["aux"], prefix), child=child))
        return inst

    @staticmethod
    def _aux_here(aux: str | None, prefix: str) -> str | None:
        if aux and aux.startswith(prefix) and "." not in aux[len(prefix):]:
            return aux[len(prefix):]
        return None

    # ---- classes ------------------------------------------------------------------------------------
    def run(self) -> str:
        g = self.g
        order = nx.DiGraph()
        order.add_nodes_from(self.defs)
        for info in g.graph["blocks"].values():
            parent = g.graph["blocks"][info["parent"]]["block"] if info["parent"] else None
            if parent:
                order.add_edge(info["block"], parent)
        by_def: dict[str, list[str]] = {}
        for inst, info in g.graph["blocks"].items():
            by_def.setdefault(info["block"], []).append(inst)
        # instances are laid out children first (a child's input and output are needed by its parent)
        for inst in reversed(list(g.graph["blocks"])):
            self.instances[inst] = self.lay_out(inst)
        for d in nx.topological_sort(order):
            if d in by_def:
                self.classes_for(d, [self.instances[i] for i in by_def[d]])
        top = self.instances[""] = self.lay_out("")
        self.classes_for(None, [top])
        self.top = top.cls
        return self.source(top)

    def skeleton(self, inst: Instance) -> tuple:
        out = []
        for it in inst.items:
            form = (it.form.cls if isinstance(it.form, TorchModule) else it.form.template) if it.kind == "layer" \
                else self.instances[it.child].cls
            out.append((it.kind, it.rel, form, it.scope, it.aux, tuple(self._ref(inst, i) for i in it.inputs)))
        return tuple(out)

    @staticmethod
    def _ref(inst: Instance, value: str) -> str:
        return "IN" if value == inst.input else value[len(inst.name) + 1:] if inst.name else value

    def classes_for(self, block: str | None, instances: list[Instance]) -> None:
        groups: dict[tuple, list[Instance]] = {}
        for inst in instances:
            groups.setdefault(self.skeleton(inst), []).append(inst)
        for group in groups.values():
            self._emit_group(block, group)

    def _emit_group(self, block: str | None, group: list[Instance]) -> None:
        plan = self.resolve(block, group)
        if isinstance(plan, tuple):  # an argument no expression writes for all: split by its value
            key = plan[1]
            parts: dict[Any, list[Instance]] = {}
            for inst, v in zip(group, key):
                parts.setdefault(repr(v), []).append(inst)
            for part in parts.values():
                self._emit_group(block, part)
            return
        name = self._class_name(block)
        for inst in group:
            inst.cls = name
        self.classes.append(self.class_source(name, block, group[0], plan))

    def _class_name(self, block: str | None) -> str:
        base = "".join(w[:1].upper() + w[1:] for w in (block or self.net.name).replace("-", "_").split("_") if w) or "Net"
        if not base[0].isalpha():
            base = "Net" + base
        name, k = base, 1
        while name in self.class_names or keyword.iskeyword(name) or name in ("F", "nn", "torch", "np"):
            k += 1
            name = f"{base}{k}"
        self.class_names.add(name)
        return name

    def resolve(self, block: str | None, group: list[Instance]):
        """Each item's arguments written for every instance of the group: {item index: [(kw, Expr)]},
        or ("split", values) for the first argument that cannot be."""
        params = {p.name for p in self.defs[block].params} if block else set()
        names = {python_name(p) for p in params}
        envs = [inst.env for inst in group]
        channels: dict[str, Expr | None] = {"IN": Expr("cin", lambda env: env["cin"]) if block else
                                             literal(group[0].env["cin"])}
        plan: dict[int, list] = {}
        rep = group[0]
        for k, it in enumerate(rep.items):
            items = [inst.items[k] for inst in group]
            ref = [self._ref(rep, v) for v in it.inputs]
            if it.kind == "call":
                args, split = self._call_args(it, items, group, params, envs, channels.get(ref[0]))
                if split is not None:
                    return ("split", split)
                plan[k] = args
                channels[self._ref(rep, it.output)] = None
                continue
            if isinstance(it.form, TorchCall):
                plan[k] = []
                op = it.node.op
                if op == "concat":
                    parts = [channels.get(r) for r in ref]
                    channels[it.rel] = _sum(parts)
                elif op == "flatten":
                    spatial = [inst.items[k].node.shape != self.g.nodes[inst.items[k].inputs[0]]["node"].shape[:1] for inst in group]
                    channels[it.rel] = None if any(spatial) else channels.get(ref[0])
                else:
                    channels[it.rel] = channels.get(ref[0])
                continue
            stmt = self.stmts.get((it.node.pos.line, it.node.pos.column))
            args = []
            for j, slot in enumerate(it.form.args):
                values = [i.form.args[j].value for i in items]
                cands = []
                if slot.source == "in":
                    cands.append(channels.get(ref[0]))
                elif slot.source and isinstance(stmt, ast.Layer):
                    e = _arg_expr(stmt, slot.source)
                    cands.append(compile_expr(e, params) if e is not None else None)
                first = cands[0] if cands else None  # what the .cnn file wrote, if an expression of the block's
                written = first is not None and (first.prec < 3 or bool(_identifiers(first.src) & names))
                if slot.kw is not None and not written and all(_same(v, slot.default) for v in values):
                    continue  # PyTorch's default, and the .cnn file did not write it with a parameter
                expr = self._choose(cands, values, envs, params, slot.source == "in")
                if expr is None:
                    return ("split", values)
                args.append((slot.kw, expr))
            plan[k] = args
            out_source = {"conv": "out_channels", "dense": "out_features"}.get(it.node.op)
            if out_source:
                j = next(i for i, s in enumerate(it.form.args) if s.source == out_source)
                chosen = [e for kw, e in args if kw is None][1]
                values = [i.form.args[j].value for i in items]
                channels[it.rel] = chosen if _holds(chosen, envs, values) else None
            else:
                channels[it.rel] = channels.get(ref[0])
        return plan

    def _choose(self, cands: list, values: list, envs: list[dict], params: set[str], channels: bool = False) -> Expr | None:
        """The first of: the candidates (what the .cnn file wrote, the channels flowing in); for a channel
        count, a parameter or `cin` that holds it; a constant; a parameter that holds it."""
        for c in cands:
            if c is not None and _holds(c, envs, values):
                return c
        names = [Expr(python_name(n), lambda env, n=n: env[n]) for n in sorted(params) + (["cin"] if params else [])]
        constant = [literal(values[0])] if all(_same(v, values[0]) for v in values) else []
        for c in (names + constant if channels else constant + names):
            if _holds(c, envs, values):
                return c
        return None

    def _call_args(self, it: Item, items: list[Item], group: list[Instance], params, envs, cin: Expr | None):
        children = [self.instances[i.child] for i in items]
        info = self.g.graph["blocks"][it.child]
        call = self.stmts.get((info["pos"].line, info["pos"].column))
        block = self.defs[info["block"]]
        given = {}
        if isinstance(call, ast.Call):
            given = {p.name: e for p, e in zip(block.params, call.args)}
            given.update({kw.key: kw.value for kw in call.kwargs})
        out = []
        uses_cin = self._uses_cin(self.instances[it.child].cls)
        names = (["cin"] if uses_cin else []) + [p.name for p in block.params]
        defaults = {p.name: p.default.value for p in block.params if isinstance(p.default, ast.Num)}
        for pname in names:
            values = [c.env[pname] for c in children]
            if pname not in given and pname in defaults and all(_same(v, defaults[pname]) for v in values):
                continue  # the .cnn call leaves it to the default, and so does the class
            cands = [cin] if pname == "cin" else [compile_expr(given[pname], params) if pname in given else None]
            expr = self._choose(cands, values, envs, params, pname == "cin")
            if expr is None:
                return None, values
            out.append((pname, expr))
        return out, None

    def _uses_cin(self, cls: str) -> bool:
        return cls in self.cin_classes

    # ---- source ---------------------------------------------------------------------------------------
    def class_source(self, name: str, block: str | None, rep: Instance, plan: dict) -> str:
        lines: list[str] = []
        uses = set()
        init: list[str] = []
        made: set[str] = set()
        for k, it in enumerate(rep.items):
            args = plan.get(k, [])
            for _, e in args:
                uses.add(e.src)
            parts = it.rel.split(".") if it.kind == "call" or isinstance(it.form, TorchModule) else []
            for depth in range(1, len(parts)):
                container = ".".join(parts[:depth])
                if container not in made:
                    made.add(container)
                    init.append(_assign(container, "nn.Module()"))
            if it.kind == "call":
                cls = self.instances[it.child].cls
                init.append(_assign(it.rel, f"{cls}(" + ", ".join(f"{python_name(kw)}={e.src}" for kw, e in args) + ")"))
            elif isinstance(it.form, TorchModule):
                rendered = [e.src if kw is None else f"{kw}={e.src}" for kw, e in args]
                init.append(_assign(it.rel, f"{it.form.cls}({', '.join(rendered)})"))
            made.add(it.rel)
        names_used = " ".join(uses)
        uses_cin = "cin" in _identifiers(names_used)
        if uses_cin:
            self.cin_classes.add(name)
        heads = [it for it in rep.items if it.aux]
        if block:
            d = self.defs[block]
            sig = (["cin"] if uses_cin else []) + [
                python_name(p.name) + (f"={show(p.default.value)}" if isinstance(p.default, ast.Num) else "")
                for p in d.params]
            params = ", ".join(["self", "*"] + sig) if sig else "self"
            shown = [p.name + (f"={show(p.default.value)}" if isinstance(p.default, ast.Num) else "") for p in d.params]
            doc = f"block {d.name}({', '.join(shown)}), line {d.pos.line} of the .cnn file."
        else:
            params, doc = "self", f"network {self.net.name}: input {'x'.join(map(str, self.net.input_shape))}."
        lines.append(f"class {name}(nn.Module):")
        lines.append(f'    """{doc}"""')
        if not block and self.net.aux_heads:
            weights = ", ".join(f"{h['name']!r}: {h['weight']:g}" for h in self.net.aux_heads)
            lines.append("")
            lines.append(f"    aux_weights = {{{weights}}}  # each auxiliary head's weight in the training loss")
        lines.append("")
        lines.append(f"    def __init__({params}):")
        lines.append("        super().__init__()")
        lines += ["        " + s for s in init]
        if heads:
            lines.append("        self._aux = {}  # the auxiliary heads' outputs of the last training forward")
        lines.append("")
        lines.append("    def forward(self, x):")
        lines += ["        " + s for s in self.forward_body(rep, bool(heads))]
        return "\n".join(lines)

    def forward_body(self, inst: Instance, has_aux: bool) -> list[str]:
        items = inst.items
        uses: dict[str, int] = {}
        for it in items:
            for v in it.inputs:
                uses[v] = uses.get(v, 0) + 1
        uses[inst.output] = uses.get(inst.output, 0) + 1
        holder: dict[str, str] = {inst.input: "x"}  # value → the variable holding it
        content: dict[str, str] = {"x": inst.input}  # variable → the value it holds
        pending: dict[str, tuple[str, bool]] = {}  # value → (expression, binary) not yet assigned
        lines: list[tuple[str | None, str]] = []  # (the aux head it belongs to, the statement)
        taken = {"x"}

        def emit(text: str, aux: str | None):
            lines.append((aux, text))

        def read(v: str, binary_ctx: bool) -> str:
            if v in pending:
                text, binary = pending.pop(v)
                return f"({text})" if binary and binary_ctx else text
            return holder[v]

        def flush(v: str, var: str, aux: str | None):
            text, _ = pending.pop(v)
            old = content.get(var)
            if old is not None and old != v and uses.get(old, 0) > 0 and holder.get(old) == var:
                keep = fresh("identity", taken)
                emit(f"{keep} = {var}", aux)
                holder[old], content[keep] = keep, old
            emit(f"{var} = {text}", aux)
            holder[v], content[var] = var, v

        last = None  # (value, variable, line, aux) of the pending expression
        readers = {}
        for k, it in enumerate(items):
            for v in it.inputs:
                readers.setdefault(v, []).append(k)
        for k, it in enumerate(items):
            var = self._var(it, taken, readers.get(it.output, []) not in ([], [k + 1]))
            if last and last[0] in pending and not (len(it.inputs) == 1 and it.inputs[0] == last[0]
                                                    and uses[last[0]] == 1 and last[1] == var and last[2] == it.line
                                                    and last[3] == it.aux):
                flush(last[0], last[1], last[3])
            binary = isinstance(it.form, TorchCall) and it.form.binary
            ins = [read(v, binary) for v in it.inputs]
            for v in it.inputs:
                uses[v] -= 1
            if it.kind == "call":
                text = f"{_get(it.rel)}({ins[0]})"
            elif isinstance(it.form, TorchModule):
                text = f"{_get(it.rel)}({ins[0]})"
            else:
                text = it.form.template.format(it.form.join.join(ins))
            pending[it.output] = (text, binary)
            last = (it.output, var, it.line, it.aux)
            head = next((h for h in self.net.aux_heads if h["node"] == it.output), None)
            if it.aux and (head is not None or k + 1 == len(items) or items[k + 1].aux != it.aux):
                flush(it.output, var, it.aux)
                emit(f"self._aux[{it.aux!r}] = {var}", it.aux)
                last = None
        out: list[str] = ["self._aux = {}"] if has_aux else []
        for k, (aux, text) in enumerate(lines):
            if aux is None:
                out.append(text)
                continue
            if k == 0 or lines[k - 1][0] != aux:
                out.append(f"if self.training:  # the auxiliary head {aux}, in training only")
            out.append("    " + text)
        out.append(f"return {pending.pop(inst.output)[0] if inst.output in pending else holder[inst.output]}")
        return out

    def _var(self, it: Item, taken: set[str], read_later: bool) -> str:
        label = it.node.label if it.kind == "layer" and read_later else None
        name = python_name(label) if label else (it.scope.replace(".", "_") or "x")
        taken.add(name)
        return name

    def _example_key(self) -> str:
        keys = list(self.net.params) or ["conv1.weight"]
        return next((k for k in keys if k.count(".") > 1), keys[0])

    def source(self, top: Instance) -> str:
        src = self.net.source
        head = f'''"""{self.net.name} as PyTorch modules, written by `cnndsl export --to pytorch` from {Path(src).name}.

    model = {top.cls}()
    load_weights(model, "weights.npz")   # the weights cnndsl saved (net.save_weights, `cnndsl train`)
    y = model.eval()(torch.randn(1, {", ".join(map(str, self.net.input_shape))}))

Parameter names are cnndsl's weight keys ("{self._example_key()}"), so cnndsl's .npz and `state_dict()`
hold the same arrays. In training mode the auxiliary heads run too: aux_outputs(model).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
'''
        tail = '''

def load_weights(model: nn.Module, weights) -> nn.Module:
    """Load cnndsl's weights into the model: an .npz path (net.save_weights, a `cnndsl train`
    checkpoint) or a dict of arrays under cnndsl's keys."""
    if isinstance(weights, dict):
        arrays = dict(weights)
    else:
        with np.load(weights, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    if "meta" in arrays:  # a training checkpoint: its weights and running statistics
        arrays = {k.partition("/")[2]: v for k, v in arrays.items() if k.startswith(("weights/", "buffers/"))}
    state = {k: torch.as_tensor(np.asarray(v)) for k, v in arrays.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise KeyError(f"the weights do not fit {type(model).__name__}: missing {missing}, unexpected {unexpected}")
    return model


def aux_outputs(model: nn.Module) -> dict:
    """The auxiliary heads' outputs of the last training forward, by head name."""
    return {f"{path}.{name}" if path else name: y
            for path, m in model.named_modules() for name, y in getattr(m, "_aux", {}).items()}
'''
        return head + "\n\n" + "\n\n\n".join(self.classes) + "\n" + tail


def _sum(parts: list[Expr | None]) -> Expr | None:
    """A concat's channels: the sum of its inputs', folded where they are constants."""
    if any(p is None for p in parts):
        return None
    if all(p.src.isdigit() for p in parts):
        return literal(sum(int(p.src) for p in parts))
    return Expr(" + ".join(p.src for p in parts), lambda env: sum(p.fn(env) for p in parts), 1)


def _identifiers(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", text))


def _ok(part: str) -> bool:
    return part.isidentifier() and not keyword.iskeyword(part)


def _get(path: str) -> str:
    return "self." + path if all(_ok(p) for p in path.split(".")) else f"self.get_submodule({path!r})"


def _assign(path: str, value: str) -> str:
    """`self.b1.conv1 = value`, or add_module where a name is not a Python identifier (a label `class`)."""
    if all(_ok(p) for p in path.split(".")):
        return f"self.{path} = {value}"
    parent, _, last = path.rpartition(".")
    return f"{_get(parent) if parent else 'self'}.add_module({last!r}, {value})"


def _arg_expr(stmt: ast.Layer, source: str):
    op = layer(stmt.op)
    names = [a.name for a in op.positional]
    if source in names and names.index(source) < len(stmt.args):
        return stmt.args[names.index(source)]
    return next((o.value for o in stmt.options if o.key == source), None)


def _bodies(s) -> list:
    if isinstance(s, (ast.Repeat, ast.Aux, ast.BlockDef)):
        return [s.body]
    if isinstance(s, ast.Merge):
        return [b.body for b in s.branches]
    if isinstance(s, ast.Residual):
        return [s.body] + ([s.shortcut] if s.shortcut else [])
    return []


def to_source(net) -> str:
    """The network as a Python module of PyTorch classes (see the module's docstring)."""
    return _Exporter(net).run()


def save_source(net, path) -> str:
    """Write the source (atomically); returns the network's class name."""
    ex = _Exporter(net)
    write_text(path, ex.run(), "PyTorch source")
    return ex.top
