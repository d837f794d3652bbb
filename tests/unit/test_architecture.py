"""The import graph: layers that only look down, and no circles.

valign's packages sit on layers (docs/architecture.md). A module may import from its own
layer or the ones below, never above; the faces people call — every package's ``stage``
and ``cli`` modules, the stage contract, the pipeline and the ``valign`` command — sit on
top and may import anything beneath them. Every import counts, including the ones inside
functions and under ``TYPE_CHECKING``: a deferred import is still a dependency.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import valign

SRC = Path(valign.__file__).resolve().parent.parent

LAYERS: tuple[tuple[str, ...], ...] = (
    # 0, the ground floor: shared records, errors, statistics, settings, the cache, the registry
    (
        "valign",
        "valign.errors",
        "valign.jsonl",
        "valign.stats",
        "valign.settings",
        "valign.cache",
        "valign.registry",
        "valign.records",
    ),
    ("valign.values", "valign.models", "valign.report", "valign.public"),
    ("valign.world", "valign.feedback"),
    ("valign.evals",),
    ("valign.guard",),
    ("valign.data", "valign.redteam", "valign.interp"),
    ("valign.train",),
    ("valign.cai",),
)
TOP_NAMES = ("valign.cli", "valign.__main__", "valign.pipeline", "valign.stage")
TOP_LEAVES = ("stage", "cli")  # <pkg>.stage, <pkg>.cli (and <pkg>.<sub>.cli)


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "valign").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _target(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" for a in node.names]
        for name in names:
            if name == "valign" or name.startswith("valign."):
                target = _target(name)
                if target and target != module:
                    out.add(target)
    return out


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def is_top(module: str) -> bool:
    return module in TOP_NAMES or module.rpartition(".")[2] in TOP_LEAVES


def layer(module: str) -> int:
    """The layer of a module that is not on top: its longest listed package prefix."""
    best, depth = -1, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            hit = module == name or module.startswith(name + ".")
            if hit and name.count(".") > depth:
                best, depth = i, name.count(".")
    assert best >= 0, f"{module} is on no layer: add its package to LAYERS"
    return best


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_every_module_is_on_a_layer_or_on_top() -> None:
    for module in MODULES:
        if not is_top(module):
            layer(module)


def test_no_module_imports_upward() -> None:
    upward = [
        f"{a} (layer {layer(a)}) -> {b} ({'top' if is_top(b) else f'layer {layer(b)}'})"
        for a, targets in sorted(GRAPH.items())
        if not is_top(a)
        for b in sorted(targets)
        if is_top(b) or layer(b) > layer(a)
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_circles_between_modules() -> None:
    cycles = _cycles(GRAPH)
    assert not cycles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_import_circles_between_packages() -> None:
    packages: dict[str, set[str]] = defaultdict(set)
    for a, targets in GRAPH.items():
        if is_top(a):
            continue
        for b in targets:
            if _package(a) != _package(b):
                packages[_package(a)].add(_package(b))
    cycles = _cycles(packages)
    assert not cycles, "package circles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_a_circle_and_an_upward_edge() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer("valign.train.sft") > layer("valign.guard.build") > layer("valign.records.runs")
    assert is_top("valign.guard.stage") and is_top("valign.pipeline")
    assert not is_top("valign.guard.classifier")
