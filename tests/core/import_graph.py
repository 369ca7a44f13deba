"""The core's import graph, as a test reads it: every import of every module (at the top, inside a function or
a class, under a condition; not under ``if TYPE_CHECKING:``, which never runs), and every skill module a layer
loads by name through the skill registry (``layer_hooks(skill, "video", ...)`` reaches every
``physworld_core/skills/*/video.py``).

Kept apart from the tests so that a test can run it on a made-up tree and check it finds what it must.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

PLUGIN_LOADERS = ("layer_hooks", "all_layer_hooks")
"""Functions that import a skill's module named after a layer (their second argument, a string constant)."""
PLUGIN_LISTS = ("PLUGIN_MODULES", "BUILTIN_MODULES")
"""Module-level tuples of module names a registry imports by name (the task sources')."""


@dataclass
class ImportGraph:
    """Modules of one package (dotted names) and the imports between them.

    Args:
        files: module name → source file.
        edges: module name → {imported module: (line, how)}, ``how`` being "top", "function" or "plugin".
    """

    files: dict[str, Path] = field(default_factory=dict)
    edges: dict[str, dict[str, tuple[int, str]]] = field(default_factory=dict)

    def reachable(self, start: str) -> dict[str, list[str]]:
        """Every module ``start`` reaches, with the chain of imports that gets there."""
        paths = {start: [start]}
        queue = deque([start])
        while queue:
            module = queue.popleft()
            for target in self.edges.get(module, {}):
                if target not in paths:
                    paths[target] = [*paths[module], target]
                    queue.append(target)
        return paths


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def build_graph(root: Path) -> ImportGraph:
    """The import graph of the package whose directory is ``root`` (edges only to its own modules)."""
    graph = ImportGraph()
    for path in sorted(root.rglob("*.py")):
        graph.files[module_name(root, path)] = path
    package = root.name
    for name, path in graph.files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        edges: dict[str, tuple[int, str]] = {}
        for node, how in _walk(tree):
            for target in _targets(node, name, is_package, graph.files, package):
                # importing a module runs its packages' __init__ too
                for reached in (target, *_parents(target, graph.files)):
                    if reached != name and not name.startswith(reached + "."):
                        edges.setdefault(reached, (node.lineno, how))
        graph.edges[name] = edges
    return graph


def _walk(tree: ast.AST):
    """(node, "top" | "function" | "plugin") for every import node and plugin load, skipping TYPE_CHECKING."""

    def visit(node: ast.AST, in_function: bool):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from visit(child, in_function)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, "function" if in_function else "top"
        if isinstance(node, ast.Call) and _loader_name(node.func) in PLUGIN_LOADERS:
            yield node, "plugin"
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id in PLUGIN_LISTS for t in node.targets)
            and isinstance(node.value, ast.Tuple)
        ):
            yield node, "plugin"
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, inner)

    yield from visit(tree, False)


def _parents(module: str, modules: dict) -> list[str]:
    parts = module.split(".")
    return [p for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p in modules]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _loader_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _targets(node: ast.AST, importer: str, is_package: bool, modules: dict, package: str) -> list[str]:
    if isinstance(node, ast.Assign):
        return [e.value for e in node.value.elts if isinstance(e, ast.Constant) and e.value in modules]
    if isinstance(node, ast.Call):
        if len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
            layer = node.args[1].value
            return sorted(m for m in modules if m.startswith(f"{package}.skills.") and m.endswith(f".{layer}"))
        return []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            parts = importer.split(".")
            parts = parts if is_package else parts[:-1]
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, base] if base else parts)
        names = [f"{base}.{alias.name}" for alias in node.names] + [base]
    found = []
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name.split(".")[0] == package and name not in found:
            found.append(name)
    # ``from pkg import sub`` names the submodule; ``from pkg.mod import thing`` the module, not its package
    if isinstance(node, ast.ImportFrom) and len(found) > 1:
        found = [f for f in found if f != (node.module or "")] or found
    return found
