"""The package's import graph has no cycle — counting imports inside functions and under TYPE_CHECKING,
which can hide one — and the engine and kernels sit below the presentation (summary, render, CLI)."""

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "cnndsl"


def import_graph() -> nx.DiGraph:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    g = nx.DiGraph()
    g.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                for t in [target] + [f"{target}.{a.name}" for a in node.names]:
                    if t in modules and t != name:
                        g.add_edge(name, t)
            elif isinstance(node, ast.Import):
                g.add_edges_from((name, a.name) for a in node.names if a.name in modules and a.name != name)
    return g


def test_no_import_cycles():
    g = import_graph()
    g.remove_node("cnndsl")  # the package's lazy names (cnndsl.load, …) are its public face, not a layer
    assert list(nx.simple_cycles(g)) == []


def test_the_engine_and_kernels_never_import_the_presentation():
    g = import_graph()
    low = [m for m in g if m.startswith(("cnndsl.engine", "cnndsl.kernels", "cnndsl.ops", "cnndsl.graph"))]
    presentation = {"cnndsl.summary", "cnndsl.render", "cnndsl.render.dot", "cnndsl.render.view", "cnndsl.cli"}
    for module in low:
        assert not (nx.descendants(g, module) & presentation), module
