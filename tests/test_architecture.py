"""The package's layers: no module imports from a higher layer, no two modules import each other (directly or round
a circle), and stage 3 and the evaluation get finished models only through `faceobf.trained`.

Imports are read from the source (every `import` statement, also those inside functions), so a lazy import
cannot hide a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "faceobf"

# Lowest first. A module may import from its own layer and the ones below it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("faceobf", "faceobf.errors", "faceobf.runtime", "faceobf.paths", "faceobf.io", "faceobf.results")),
    ("data and networks", ("faceobf.data", "faceobf.models", "faceobf.dlib_models", "faceobf.inference", "faceobf.recognition")),
    ("stage 1: disentangle", ("faceobf.disentangle",)),
    ("stage 2: reconstruct", ("faceobf.reconstruct",)),
    ("configuration", ("faceobf.profiles", "faceobf.options")),
    ("run registry", ("faceobf.runs", "faceobf.shipped", "faceobf.networks")),
    ("training", ("faceobf.train",)),
    ("stage 3: obfuscate", ("faceobf.obfuscate",)),
    ("finished models", ("faceobf.trained",)),
    ("evaluation", ("faceobf.evaluate",)),
    ("front ends", ("faceobf.viz", "faceobf.colab", "faceobf.cli", "faceobf.commands")),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def import_graph() -> dict[str, set[str]]:
    """module -> the faceobf modules it imports anywhere in its source."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name, targets = module_name(path), set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.split(".")[0] == "faceobf"}
            elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "faceobf":
                for alias in node.names:  # `from faceobf import runs` imports the module faceobf.runs
                    child = f"{node.module}.{alias.name}"
                    targets.add(child if is_module(child) else node.module)
        graph[name] = targets - {name}
    return graph


def layer_of(module: str) -> int:
    """The layer of the longest prefix in LAYERS that names `module` or a package above it."""
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[1])):
                best = (index, prefix)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")
    return best[0]


GRAPH = import_graph()


def test_every_module_has_a_layer() -> None:
    for module in GRAPH:
        layer_of(module)


def test_no_module_imports_from_a_higher_layer() -> None:
    upward = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
              for m, targets in GRAPH.items() for t in sorted(targets) if layer_of(t) > layer_of(m)]
    assert not upward, "\n".join(upward)


def test_stage_3_and_the_evaluation_never_import_training_code() -> None:
    reaching = [f"{m} imports {t}" for m, targets in GRAPH.items() for t in targets
                if m.startswith(("faceobf.obfuscate", "faceobf.evaluate")) and (t == "faceobf.train" or t.startswith("faceobf.train."))]
    assert not reaching, "\n".join(reaching)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module: the import circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return circles


def test_no_import_circles() -> None:
    # a package's __init__ importing its own modules is not a circle unless one of them imports the package back
    assert strongly_connected(GRAPH) == []


def test_the_checker_finds_a_circle_and_an_upward_import() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("faceobf.train.recon") > layer_of("faceobf.reconstruct.generate")
    with pytest.raises(AssertionError, match="no layer"):
        layer_of("faceobf_other.module")
