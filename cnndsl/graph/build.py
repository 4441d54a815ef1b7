"""AST → one networkx DiGraph per network: blocks inlined, repeats unrolled, shapes inferred.

Every node is one layer (merges included) plus the node `input`, added after its inputs (a topological
order). Each carries a frozen `Node` (cnndsl/graph/node.py) under the attribute "node"; docs/graph.md
describes it. Edge attribute: role — "main", "skip" (a residual's identity, an `@label` merge),
"projection" (from a residual's shortcut) or "aux" (into an aux head). Graph attributes: name,
input_shape, output, aux_heads [{name, node, weight, pos}], blocks {instance → info}, notes [CnnNote:
things worth saying that are not errors, e.g. a label read before its activation], program (the AST it was
built from: the PyTorch source exporter reads the block definitions' expressions).

Node names are the scope's prefix plus the label, or the op and its running count within the scope:
`inception3a.b2.conv2`, `layer1_0.shortcut.conv1`, `aux1.dense1`. Adding a layer renumbers only later
layers of the same op in the same scope; labels never change. Generated names that would end in the
layer's own digits take a separator: relu6_1, not relu61.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import islice
from dataclasses import dataclass, field
from types import MappingProxyType

import networkx as nx

from ..errors import (CnnArgumentError, CnnError, CnnErrors, CnnExpectationError, CnnNameError, CnnNote,
                      CnnResourceError, CnnShapeError, CnnSyntaxError, SourcePosition, clip, suggest)
from ..gcpause import collector_paused
from ..language import ast
from ..ops import OPS, ArgError, ShapeError, fmt_shape, layer, unknown_layer_message
from ..ops.base import show_value
from .node import NO_ENTRIES, Node

MAX_NODES = 100_000
MAX_ERRORS = 20  # errors reported at once, at most
MAX_DEPTH = 64  # nested bodies (braces and block calls) being expanded at once
_WORDS = {"true": True, "false": False, "same": "same", "valid": "valid"}


@dataclass
class Scope:
    """Where statements are being expanded: the naming prefix, the labels and parameter bindings."""

    prefix: str
    labels: dict[str, str]  # one dict per file or block instance: branches share their instance's
    env: dict[str, object]
    blocks: tuple[str, ...] = ()
    aux: str | None = None
    counters: Counter = field(default_factory=Counter)
    label_lines: dict[str, int] = field(default_factory=dict)
    rebindable: set[str] = field(default_factory=set)  # labels set by an earlier pass of a repeat
    role: str = "main"  # "shortcut" inside a residual's projection

    def child(self, name: str, **changes) -> "Scope":
        """A nested naming scope that shares this one's labels unless given its own."""
        fields = dict(prefix=f"{self.prefix}{name}.", labels=self.labels, env=self.env, blocks=self.blocks,
                      aux=self.aux, label_lines=self.label_lines, rebindable=self.rebindable, role=self.role)
        fields.update(changes)
        return Scope(**fields)

    def next_name(self, base: str) -> str:
        """relu → relu1, relu2, …; a name that ends in a digit takes a separator: relu6 → relu6_1."""
        k = self.counters[base] = self.counters.get(base, 0) + 1
        return f"{base}_{k}" if base[-1].isdigit() else f"{base}{k}"


def build(program: ast.Program, expectations: bool = True) -> nx.DiGraph:
    """The graph; with expectations=False an `expect` that does not hold is recorded, not an error
    (`cnndsl check --answers`)."""
    with collector_paused():
        return _Builder(program, expectations).build()


EXPECTABLE = ("shape", "params", "macs", "flops", "rf")


class _Builder:
    def __init__(self, program: ast.Program, expectations: bool = True):
        self.program = program
        self.enforce = expectations
        self.g = nx.DiGraph(name=program.name, input_shape=program.input_shape, aux_heads=[], blocks={}, notes=[],
                            expectations=[], program=program)
        self.sums = Counter()  # params, macs and flops of the layers built so far (for `expect`)
        self.blockdefs: dict[str, ast.BlockDef] = {}
        for block in program.blocks:
            if block.name in self.blockdefs:
                first = self.blockdefs[block.name].pos.line
                raise CnnNameError(f"block '{block.name}' is already defined on line {first}", block.pos)
            if layer(block.name) is not None:
                raise CnnNameError(f"block '{block.name}' has the name of a layer", block.pos, "choose another name")
            seen: set[str] = set()
            for param in block.params:
                if param.name in seen:
                    raise CnnNameError(f"block '{block.name}' has two parameters named '{param.name}'", param.pos)
                seen.add(param.name)
            self.blockdefs[block.name] = block
        self.active: list[str] = []  # the block instances being expanded, to catch recursion
        self.sizing: set[str] = set()  # the blocks being sized by least_nodes, likewise
        self.sized: dict[tuple, int] = {}  # least_nodes of a block by its static arguments
        self.depth = 0  # nested bodies being expanded
        self.nodes: dict[str, Node] = {}  # name → Node, as added (the shape rules of later nodes read them)
        self.copies: dict[str, int] = {}  # a label's next suffix in later passes of a repeat
        self.blocks = self.g.graph["blocks"]
        self.facts: dict[tuple, dict] = {}  # derive()'s results by statement, values and input shape
        self.noted: set[str] = set()
        self.errors: list[CnnError] = []  # independent errors found so far (reported together)  # labelled layers already noted as read before their activation
        self.dispatch = {ast.Layer: self._layer, ast.Call: self._call, ast.Repeat: self._repeat,
                         ast.Merge: self._merge, ast.RefMerge: self._refmerge, ast.Residual: self._residual,
                         ast.From: self._from, ast.Aux: self._aux, ast.Expect: self._expect}

    # ---- the whole network -----------------------------------------------------------------------
    def build(self) -> nx.DiGraph:
        p = self.program
        self.g.add_node("input", node=Node(
            name="input", op="input", attrs=NO_ENTRIES, inputs=(), shape=p.input_shape, params=NO_ENTRIES,
            state=NO_ENTRIES, n_params=0, macs=0, flops=0, act_bytes=0, rf=(1, 1), jump=(1, 1), pos=p.pos, scope="",
            blocks=(), aux=None, label=None, role="main", stmt="input"))
        self.nodes["input"] = self.g.nodes["input"]["node"]
        if not p.body:
            raise CnnSyntaxError("the network has no layers", p.pos, "add layers after `input`")
        scope = Scope(prefix="", labels={}, env={})
        self.g.graph["output"] = self.run(p.body, scope, "input")
        if self.errors:
            if any(not isinstance(e, CnnExpectationError) for e in self.errors):
                # an `expect` after a mistake counts a network the mistake changed: it says nothing new
                self.errors = [e for e in self.errors if not isinstance(e, CnnExpectationError)]
            raise self.errors[0] if len(self.errors) == 1 else CnnErrors(self.errors)
        if len(self.nodes) == 1:  # statements, but no layer (only `expect`, say)
            raise CnnSyntaxError("the network has no layers", p.pos, "add layers after `input`")
        self._check_dangling()
        return self.g

    def run(self, stmts: tuple, scope: Scope, current: str) -> str:
        if self.depth >= MAX_DEPTH and stmts:
            raise CnnResourceError(f"blocks and braces nested too deeply (more than {MAX_DEPTH} levels)", stmts[0].pos,
                           "a block that calls a block that calls a block …: flatten the chain")
        self.depth += 1
        broken = False  # an error earlier in this chain: what follows may see a wrong shape
        try:
            for stmt in stmts:
                before = len(self.errors)
                try:
                    current = self.statement(stmt, scope, current)
                except (CnnResourceError, CnnErrors):
                    raise
                except CnnError as e:
                    if broken and isinstance(e, CnnShapeError):
                        break  # most likely caused by the earlier error: the rest of this chain is not checked
                    self._report(e)
                    label = getattr(stmt, "label", None)
                    if label and label not in scope.labels:  # so that `@label` later does not cascade
                        scope.labels[label], scope.label_lines[label] = current, stmt.pos.line
                broken = broken or len(self.errors) > before
        finally:
            self.depth -= 1
        return current

    def _report(self, error: CnnError) -> None:
        """Keep an independent error and go on checking; stop at MAX_ERRORS. A block called twice
        reports its mistake once."""
        if any(e.pos == error.pos and e.message == error.message for e in self.errors):
            return
        self.errors.append(error)
        if len(self.errors) >= MAX_ERRORS:
            raise CnnErrors(self.errors)

    def statement(self, stmt, scope: Scope, current: str) -> str:
        label = getattr(stmt, "label", None)
        if label and label in scope.labels and label not in scope.rebindable:
            raise CnnNameError(f"label '{clip(label)}' is already defined on line {scope.label_lines[label]}", stmt.pos,
                           "labels are unique within a file or a block")
        out = self.dispatch[type(stmt)](stmt, scope, current)
        if label:
            scope.labels[label] = out
            scope.label_lines[label] = stmt.pos.line
        return out

    # ---- the size of an expansion, before it runs ------------------------------------------------
    def least_nodes(self, stmts: tuple, env: dict, limit: int, depth: int = 0) -> int:
        """A lower bound on the layers `stmts` expand to (repeat counts that cannot be evaluated yet
        count once); stops counting past `limit`. Lets a runaway `repeat` or block fan-out be refused
        before any of it is built."""
        total = 0
        if depth > MAX_DEPTH:
            return total
        for stmt in stmts:
            if total > limit:
                break
            kind = type(stmt)
            if kind in (ast.Layer, ast.RefMerge):
                total += 1
            elif kind is ast.Repeat:
                try:
                    count = self.value(stmt.count, Scope(prefix="", labels={}, env=env))
                except CnnError:
                    count = 1
                count = count if isinstance(count, int) and count >= 1 else 1
                body = self.least_nodes(stmt.body, env, limit, depth + 1)
                total += count * body
            elif kind is ast.Merge:
                total += 1 + sum(self.least_nodes(b.body, env, limit, depth + 1) for b in stmt.branches)
            elif kind is ast.Residual:
                total += 1 + self.least_nodes(stmt.body + (stmt.shortcut or ()), env, limit, depth + 1)
            elif kind is ast.Aux:
                total += self.least_nodes(stmt.body, env, limit, depth + 1)
            elif kind is ast.Call:
                block = self.blockdefs.get(stmt.name)
                if block is not None and block.name not in self.sizing:
                    inner = self._static_env(block, stmt, env)
                    try:  # a block called with the same arguments is counted once: fan-out stays linear
                        key = (block.name, tuple(sorted(inner.items())))
                        hash(key)
                    except TypeError:
                        key = None
                    if key is not None and key in self.sized:
                        total += self.sized[key]
                        continue
                    self.sizing.add(block.name)
                    try:
                        inner_total = self.least_nodes(block.body, inner, limit, depth + 1)
                    finally:
                        self.sizing.discard(block.name)
                    if key is not None:
                        self.sized[key] = inner_total
                    total += inner_total
        return total

    def _static_env(self, block: ast.BlockDef, call: ast.Call, env: dict) -> dict:
        """The block's parameters that evaluate now (literal arguments, defaults); others are left out."""
        scope = Scope(prefix="", labels={}, env=env)
        out: dict = {}
        values = list(zip((p.name for p in block.params), call.args))
        values += [(kw.key, kw.value) for kw in call.kwargs]
        for name, expr in values:
            try:
                out[name] = self.value(expr, scope)
            except CnnError:
                pass
        for param in block.params:
            if param.name not in out and param.default is not None:
                try:
                    out[param.name] = self.value(param.default, Scope(prefix="", labels={}, env=dict(out)))
                except CnnError:
                    pass
        return out

    def _refuse_if_too_large(self, extra: int, pos: SourcePosition, what: str) -> None:
        if len(self.nodes) + extra > MAX_NODES:
            raise CnnResourceError(f"{what} would make more than {MAX_NODES:,} layers", pos,
                           "cnndsl expands every repetition and block call; keep networks under 100,000 layers")

    # ---- statements ------------------------------------------------------------------------------
    def _layer(self, stmt: ast.Layer, scope: Scope, current: str) -> str:
        op = layer(stmt.op)
        if op is None:
            hint = f"`{stmt.op}` is a block: call it as {stmt.op}(...)" if stmt.op in self.blockdefs else None
            if hint is None and stmt.op in ("concat", "add", "mul", "residual", "repeat", "aux", "branch"):
                hint = f"`{stmt.op}` needs braces: {stmt.op} {{ ... }}"
            message = unknown_layer_message(stmt.op)
            near_block = suggest(stmt.op, self.blockdefs)
            if "did you mean" not in message and near_block:
                message += near_block.replace("did you mean '", "did you mean the block '")
            raise CnnNameError(message, stmt.pos, hint)
        args = [self.value(e, scope) for e in stmt.args]
        options = {}
        for opt in stmt.options:
            if opt.key in options:
                raise CnnArgumentError(f"option `{clip(opt.key)}` is given twice", opt.pos)
            options[opt.key] = self.value(opt.value, scope)
        key = (id(stmt), tuple(args), tuple(options.items()), self.nodes[current].shape)
        facts = self.facts.get(key)  # a statement repeated with the same values on the same shape
        if facts is None:
            try:
                attrs = op.resolve(args, options)
            except ArgError as e:
                raise CnnArgumentError(f"{stmt.op}: {e.message}", self._arg_pos(stmt, e.where), e.hint) from None
            facts = self.facts[key] = self.derive(op.name, attrs, [self.nodes[current].shape], stmt.pos, None, stmt.op)
        return self.add(op.name, facts, [current], scope, stmt.pos, stmt.label, None, stmt.op)

    def _call(self, stmt: ast.Call, scope: Scope, current: str) -> str:
        block = self.blockdefs.get(stmt.name)
        if block is None or block.pos.line > stmt.pos.line and not self.active:
            if block is not None:
                raise CnnNameError(f"block '{clip(stmt.name)}' is used before its definition on line {block.pos.line}",
                               stmt.pos, "define blocks before the statements that use them")
            hint = f"`{clip(stmt.name)}` is a layer: write it without parentheses" if layer(stmt.name) else None
            raise CnnNameError(f"unknown block '{clip(stmt.name)}'{suggest(stmt.name, self.blockdefs)}", stmt.pos, hint)
        if stmt.name in self.active:
            chain = " → ".join(self.active + [stmt.name])
            raise CnnNameError(f"block '{clip(stmt.name)}' uses itself ({chain})", stmt.pos, "blocks cannot be recursive")
        env = self._bind_params(block, stmt, scope)
        self._refuse_if_too_large(self.least_nodes(block.body, env, MAX_NODES), stmt.pos, f"{clip(stmt.name)}(…)")
        name = stmt.label or scope.next_name(block.name)
        full = scope.prefix + name
        if full in self.g.graph["blocks"] or self.g.has_node(full):
            raise CnnNameError(f"the name '{clip(name)}' is already taken in this scope", stmt.pos, "choose another label")
        inner = scope.child(name, labels={}, label_lines={}, rebindable=set(), env=env, blocks=scope.blocks + (full,))
        self.g.graph["blocks"][full] = {"block": block.name, "args": dict(env), "pos": stmt.pos, "line": stmt.pos.line,
                                        "parent": scope.blocks[-1] if scope.blocks else None,
                                        "aux": scope.aux}
        self.active.append(stmt.name)
        try:
            if not block.body:
                raise CnnSyntaxError(f"block '{block.name}' has an empty body", block.pos)
            return self.run(block.body, inner, current)
        finally:
            self.active.pop()

    def _repeat(self, stmt: ast.Repeat, scope: Scope, current: str) -> str:
        count = self.value(stmt.count, scope)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise CnnArgumentError(f"`repeat` needs a whole number ≥ 1, got {show_value(count)}", stmt.count.pos)
        if not stmt.body:
            raise CnnSyntaxError("`repeat` has an empty body", stmt.pos)
        if count > MAX_NODES:
            self._refuse_if_too_large(count, stmt.count.pos, f"`repeat {count:,}`")
        self._refuse_if_too_large(count * self.least_nodes(stmt.body, scope.env, MAX_NODES), stmt.count.pos,
                                  f"`repeat {count:,}`")
        before = set(scope.labels)
        for _ in range(count):
            current = self.run(stmt.body, scope, current)
            scope.rebindable |= set(scope.labels) - before
        return current

    def _merge(self, stmt: ast.Merge, scope: Scope, current: str) -> str:
        k = scope.counters["merge"] = scope.counters["merge"] + 1
        outs, heads = [], []
        for i, branch in enumerate(stmt.branches, 1):
            bscope = scope.child(f"b{i}" if k == 1 else f"{stmt.kind}{k}.b{i}")
            bscope.counters = Counter()
            before = self.g.number_of_nodes()
            outs.append(self.run(branch.body, bscope, current))
            heads.append(next(islice(self.g, before, None)) if self.g.number_of_nodes() > before else None)
        return self.merge_node(stmt.kind, outs, scope, stmt.pos, stmt.label, stmt.kind, branch_heads=tuple(heads))

    def _refmerge(self, stmt: ast.RefMerge, scope: Scope, current: str) -> str:
        inputs = [current] + [self.ref(r, scope) for r in stmt.refs]
        text = f"{stmt.kind} " + " ".join(f"@{r.name}" for r in stmt.refs)
        return self.merge_node(stmt.kind, inputs, scope, stmt.pos, stmt.label, text, ["main"] + ["skip"] * len(stmt.refs))

    def _residual(self, stmt: ast.Residual, scope: Scope, current: str) -> str:
        if not stmt.body:
            raise CnnSyntaxError("`residual` has an empty body", stmt.pos, "write the layers the skip goes around")
        body = self.run(stmt.body, scope, current)
        skip = current
        if stmt.shortcut:
            k = scope.counters["shortcut"] = scope.counters["shortcut"] + 1
            sscope = scope.child("shortcut" if k == 1 else f"shortcut{k}", role="shortcut")
            sscope.counters = Counter()
            skip = self.run(stmt.shortcut, sscope, current)
        got, carried = self.nodes[body].shape, self.nodes[skip].shape
        if got != carried:
            what = "the shortcut gives" if stmt.shortcut else "the skip carries"
            raise CnnShapeError(f"residual: the body gives {fmt_shape(got)} but {what} {fmt_shape(carried)}",
                           stmt.shortcut_pos if stmt.shortcut else stmt.pos, _projection_hint(got, carried))
        return self.merge_node("add", [body, skip], scope, stmt.pos, stmt.label, "residual",
                               ["main", "projection" if stmt.shortcut else "skip"],
                               skip="projection" if stmt.shortcut else "identity")

    def _from(self, stmt: ast.From, scope: Scope, current: str) -> str:
        return self.ref(stmt.ref, scope)

    def _aux(self, stmt: ast.Aux, scope: Scope, current: str) -> str:
        weight = 0.3
        for opt in stmt.options:
            if opt.key != "weight":
                raise CnnArgumentError(f"`aux` has no option `{clip(opt.key)}`{suggest(opt.key, ['weight'])}", opt.pos,
                               "usage: aux weight=0.3 { ... }")
            weight = self.value(opt.value, scope)
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0:
                raise CnnArgumentError(f"`weight` must be a number ≥ 0, not {show_value(weight)}", opt.pos)
        if not stmt.body:
            raise CnnSyntaxError("`aux` has an empty body", stmt.pos, "write the head's layers, e.g. aux { gap; flatten; dense 10 }")
        if scope.aux:
            raise CnnSyntaxError("an aux head cannot start inside another aux head", stmt.pos)
        name = scope.next_name("aux")
        ascope = scope.child(name, aux=scope.prefix + name)
        ascope.counters = Counter()
        out = self.run(stmt.body, ascope, current)
        self.g.graph["aux_heads"].append({"name": ascope.aux, "node": out, "weight": float(weight), "pos": stmt.pos})
        return current

    def _expect(self, stmt: ast.Expect, scope: Scope, current: str) -> str:
        """Each item against the network where the statement stands: `shape` and `rf` of the current
        output, `params`, `macs` and `flops` summed over every layer built so far."""
        node = self.nodes[current]
        seen = set()
        for item in stmt.items:
            key = item.key
            if key not in EXPECTABLE:
                raise CnnArgumentError(f"`expect` has no `{clip(key)}`{suggest(key, EXPECTABLE)}", item.pos,
                                       f"it checks {', '.join(EXPECTABLE)}")
            if key in seen:
                raise CnnArgumentError(f"`{key}` is expected twice", item.pos)
            seen.add(key)
            expected = self._expected_value(key, item, scope)
            actual = node.shape if key == "shape" else node.rf if key == "rf" else self.sums[key]
            holds = expected == actual
            self.g.graph["expectations"].append({"pos": item.pos, "key": key, "expected": expected,
                                                 "actual": actual, "holds": holds, "node": current,
                                                 "statement": stmt.pos})
            if not holds and self.enforce:
                self._report(CnnExpectationError(_expectation_message(key, expected, actual, current), item.value.pos,
                                                 "`cnndsl check --answers FILE` prints what each `expect` should say"))
        return current

    def _expected_value(self, key: str, item: ast.Option, scope: Scope):
        if isinstance(item.value, ast.ShapeValue):
            if key != "shape":
                raise CnnArgumentError(f"`{key}` is a number, not a shape", item.value.pos)
            return item.value.dims
        value = self.value(item.value, scope)
        if key in ("shape", "rf"):
            if isinstance(value, tuple):
                if key == "shape":
                    raise CnnArgumentError("a shape is CxHxW (16x5x5) or a number of features (120)", item.value.pos)
                return value
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                return (value,) if key == "shape" else (value, value)
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        what = {"shape": "a shape like 16x5x5 or 120", "rf": "a size like 7 or 7x7"}.get(key, "a whole number ≥ 0")
        raise CnnArgumentError(f"`{key}` must be {what}, not {show_value(value)}", item.value.pos)

    # ---- nodes, labels, values -------------------------------------------------------------------
    def derive(self, op_name: str, attrs: dict, ins: list[tuple], pos: SourcePosition, text: str | None,
               base: str | None) -> dict:
        """What a node's op and input shapes determine: its shape, parameters and costs."""
        op = OPS[op_name]
        try:
            shape = op.infer(attrs, ins)
            params, state = op.param_shapes(attrs, ins), op.state_shapes(attrs, ins)
        except ShapeError as e:
            raise CnnShapeError(f"{text or source_text(pos, base or op_name)}: {e.message}", pos, e.hint) from None
        facts = dict(attrs=_frozen(attrs), shape=shape, params=_frozen(params), state=_frozen(state),
                     n_params=sum(math.prod(s) for s in params.values()), macs=op.macs(attrs, ins, shape),
                     flops=op.flops(attrs, ins, shape), act_bytes=4 * math.prod(shape))
        return facts, op.window(attrs, ins)

    def merge_node(self, op_name: str, inputs: list[str], scope: Scope, pos: SourcePosition, label: str | None,
                   text: str, roles: list[str] | None = None, **extra) -> str:
        facts = self.derive(op_name, {}, [self.nodes[i].shape for i in inputs], pos, text, op_name)
        return self.add(op_name, facts, inputs, scope, pos, label, text, roles=roles, **extra)

    def add(self, op_name: str, facts: tuple, inputs: list[str], scope: Scope, pos: SourcePosition,
            label: str | None, text: str | None, base: str | None = None, roles: list[str] | None = None,
            **extra) -> str:
        """A node for one layer; `facts` are derive()'s; `text` is how a merge reads in messages (None for
        a layer: its source text is read from `pos` when a message needs it, see `statement_text`).
        Each in-edge gets a role: "main", "skip" (a residual's identity, an `@label`), "projection" (a
        residual's shortcut) or "aux" (into an aux head). `extra`: the Node's skip and branch_heads."""
        if len(self.nodes) >= MAX_NODES:
            raise CnnResourceError(f"the network grows past {MAX_NODES:,} layers", pos,
                           "check the `repeat` counts; cnndsl expands every repetition")
        name = scope.prefix + label if label else self._fresh(scope, base or op_name)
        if label and label in scope.rebindable:  # a later pass of a repeat: x, x_2, x_3, ...
            k = self.copies.get(name, 2)
            while f"{name}_{k}" in self.nodes:
                k += 1
            self.copies[name] = k + 1
            name = f"{name}_{k}"
        if name in self.nodes:
            raise CnnNameError(f"label '{clip(label)}' clashes with the generated name of the layer on line "
                           f"{self.nodes[name].line}", pos, "choose another label")
        values, window = facts
        rf, jump = _receptive_field([self.nodes[i] for i in inputs], window)
        node = self.nodes[name] = Node(
            name=name, op=op_name, inputs=tuple(inputs), **values, rf=rf, jump=jump, pos=pos,
            scope=scope.prefix[:-1], blocks=scope.blocks, aux=scope.aux, label=label, role=scope.role, stmt=text,
            **extra)
        self.g.add_node(name, node=node)
        self.sums["params"] += node.n_params
        self.sums["macs"] += node.macs
        self.sums["flops"] += node.flops
        roles = roles or ["main"] * len(inputs)
        for i, role in zip(inputs, roles):
            if self.g.has_edge(i, name):
                continue
            if scope.aux and not self.nodes[i].aux:
                role = "aux"
            self.g.add_edge(i, name, role=role)
        return name

    def _fresh(self, scope: Scope, base: str) -> str:
        while True:
            name = scope.prefix + scope.next_name(base)
            if name not in self.nodes and name not in self.blocks:
                return name

    def ref(self, ref: ast.Ref, scope: Scope) -> str:
        if ref.name not in scope.labels:
            where = "in this block" if scope.blocks else "before this point"
            raise CnnNameError(f"unknown label '@{clip(ref.name)}'{suggest(ref.name, scope.labels)}", ref.pos,
                           f"labels are written `name: statement` and must be defined {where}")
        node = scope.labels[ref.name]
        self._note_pre_activation(ref, node)
        return node

    def _note_pre_activation(self, ref: ast.Ref, node: str) -> None:
        """`a: conv 8 3x3; relu` labels the conv: say so where @a is used, once per label."""
        data = self.nodes[node]
        if data.impl.statement != "layer" or data.impl.family == "activation" or node in self.noted:
            return
        for succ in self.g.successors(node):
            after = self.nodes[succ]
            if after.impl.family == "activation" and after.line == data.line:
                self.noted.add(node)
                what = source_text(data.pos, data.op)
                act = source_text(after.pos, after.op)
                self.g.graph["notes"].append(CnnNote(
                    f"@{clip(ref.name)} is the output of `{what}` (line {data.line}), before its `{act}`",
                    ref.pos, f"to take the activated value, label the activation: `{what}; {clip(ref.name)}: {act}`"))
                return

    def value(self, expr, scope: Scope):
        """Evaluate an argument expression with the block parameters in scope."""
        if isinstance(expr, ast.Num):
            return expr.value
        if isinstance(expr, ast.Size):
            return (expr.h, expr.w)
        if isinstance(expr, ast.Name):
            if expr.id in scope.env:
                return scope.env[expr.id]
            if expr.id in _WORDS:
                return _WORDS[expr.id]
            known = list(scope.env) + list(_WORDS)
            hint = "inside a block, names are its parameters" if scope.env else "names here are `same`, `valid`, `true`, `false`"
            raise CnnNameError(f"unknown name '{clip(expr.id)}'{suggest(expr.id, known)}", expr.pos, hint)
        if isinstance(expr, ast.Neg):
            v = self.value(expr.operand, scope)
            self._need_number(v, expr.operand, "-")
            return -v
        left, right = self.value(expr.left, scope), self.value(expr.right, scope)
        self._need_number(left, expr.left, expr.op)
        self._need_number(right, expr.right, expr.op)
        if expr.op == "+":
            return left + right
        if expr.op == "-":
            return left - right
        if expr.op == "*":
            return left * right
        if right == 0:
            raise CnnArgumentError("division by zero", expr.right.pos)
        if not (isinstance(left, int) and isinstance(right, int)):
            raise CnnArgumentError("`//` divides whole numbers", expr.pos)
        return left // right

    @staticmethod
    def _need_number(v, expr, op: str) -> None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise CnnArgumentError(f"`{op}` needs numbers, not {show_value(v)}", expr.pos)

    def _bind_params(self, block: ast.BlockDef, call: ast.Call, scope: Scope) -> dict:
        names = [p.name for p in block.params]
        if len(call.args) > len(names):
            raise CnnArgumentError(f"{block.name}() takes {len(names)} argument{'s' if len(names) != 1 else ''} "
                           f"({', '.join(names) or 'none'}), got {len(call.args)}", call.pos)
        env = {name: self.value(arg, scope) for name, arg in zip(names, call.args)}
        for kw in call.kwargs:
            if kw.key not in names:
                raise CnnArgumentError(f"{block.name}() has no parameter '{clip(kw.key)}'{suggest(kw.key, names)}", kw.pos,
                               f"its parameters are {', '.join(names) or 'none'}")
            if kw.key in env:
                raise CnnArgumentError(f"{block.name}(): '{clip(kw.key)}' is given twice", kw.pos)
            env[kw.key] = self.value(kw.value, scope)
        for param in block.params:
            if param.name not in env:
                if param.default is None:
                    raise CnnArgumentError(f"{block.name}() needs a value for '{param.name}'", call.pos,
                                   f"call it as {block.name}({', '.join(names)})")
                env[param.name] = self.value(param.default, Scope(prefix="", labels={}, env=dict(env)))
        return {p.name: env[p.name] for p in block.params}

    @staticmethod
    def _arg_pos(stmt: ast.Layer, where) -> SourcePosition:
        if isinstance(where, str):
            for opt in stmt.options:
                if opt.key == where:
                    return opt.pos
        if isinstance(where, int) and where < len(stmt.args):
            return stmt.args[where].pos
        return stmt.pos

    # ---- checks ----------------------------------------------------------------------------------
    def _check_dangling(self) -> None:
        ends = {self.g.graph["output"]} | {h["node"] for h in self.g.graph["aux_heads"]}
        useful = set(ends)
        nodes = self.nodes
        for n in reversed(list(self.g)):  # nodes are added after their inputs: one sweep back suffices
            if n in useful:
                useful.update(nodes[n].inputs)
        dangling = [n for n in self.g if n not in useful and self.g.out_degree(n) == 0]
        if dangling:
            last = min(dangling, key=lambda n: (nodes[n].line, nodes[n].pos.column))
            data = nodes[last]
            raise CnnShapeError(f"the output of `{statement_text(data)}` is never used", data.pos,
                           "every chain must reach the network's output or an aux head: merge it "
                           "(`add @label`, `concat @label`) or remove it")


_STATEMENT_TEXT = re.compile(r"[^;#}\n]*")


def source_text(pos: SourcePosition, fallback: str) -> str:
    """The statement starting at pos as the user wrote it, for messages: `conv 64 3x3` (read up to the
    next ';', '#' or '}' only: a line of many statements is not rescanned for each)."""
    line = pos.source.line(pos.line)
    return clip(_STATEMENT_TEXT.match(line, pos.column - 1).group().strip() or fallback, 80)


def statement_text(node: Node) -> str:
    """How a node's statement reads in a message."""
    return node.stmt or source_text(node.pos, node.op)


def show_expected(key: str, value) -> str:
    """An expectation's value as the file writes it: 16x5x5, 120, 61706, 7x7."""
    if key in ("shape", "rf"):
        return "x".join(map(str, value)) if key == "shape" or value[0] != value[1] else str(value[0])
    return str(value)


def _expectation_message(key: str, expected, actual, node: str) -> str:
    if key == "shape":
        return f"expected shape {fmt_shape(expected)}, but the output of {node} is {fmt_shape(actual)}"
    if key == "rf":
        return (f"expected a receptive field of {show_expected(key, expected)}, but {node}'s is "
                f"{show_expected(key, actual)}")
    what = {"params": "parameters", "macs": "MACs", "flops": "FLOPs"}[key]
    diff = actual - expected
    return (f"expected {key}={expected:,}, but the layers up to here have {actual:,} {what} "
            f"({abs(diff):,} {'more' if diff > 0 else 'fewer'})")


def _projection_hint(got: tuple, carried: tuple) -> str | None:
    if len(got) == 3 and len(carried) == 3:
        stride = max(carried[1] // max(got[1], 1), 1)
        opts = f" stride={stride}" if stride > 1 else ""
        return f"add `shortcut {{ conv {got[0]} 1x1{opts} }}` to project the skip"
    return "make the body keep the input's shape, or project the skip with `shortcut { ... }`"


def _frozen(mapping: dict):
    return MappingProxyType(mapping) if mapping else NO_ENTRIES


def _receptive_field(preds: list[Node], window) -> tuple[tuple[int, int], tuple[int, int]]:
    """Receptive field and jump (input pixels between neighbouring outputs) of a node from its inputs'
    and its op's window (effective kernel, stride; None keeps the field)."""
    if len(preds) == 1:
        rf, jump = preds[0].rf, preds[0].jump
    else:
        rf = tuple(max(p.rf[d] for p in preds) for d in (0, 1))
        jump = tuple(max(p.jump[d] for p in preds) for d in (0, 1))
    if window is not None:
        kernel, stride = window
        rf = tuple(r + (k - 1) * j for r, k, j in zip(rf, kernel, jump))
        jump = tuple(j * s for j, s in zip(jump, stride))
    return rf, jump
