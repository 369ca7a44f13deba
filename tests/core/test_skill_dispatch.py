"""Outside ``physworld_core/skills/``, no code names a skill or a goal kind to branch on it.

The generic stages ask a task's skill for its hooks; a comparison against a skill's name (``skill == "pour"``,
``plan.skill != "push"``, ``metrics.get("skill") in (...)``) or a goal kind's (``goal.kind == "top"``) outside
the skills' folders is a dispatch the plugin design replaces. ``world/`` (the benchmark's own families, whose
names happen to match) is apart.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import physworld_core
from physworld_core.skills.registry import skill_names
from physworld_core.twin.goals import goal_kinds

ROOT = Path(physworld_core.__file__).resolve().parent
OUTSIDE = ("skills", "world")


def _constants(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return set().union(*(_constants(e) for e in node.elts)) if node.elts else set()
    return set()


def _names(node: ast.AST) -> set[str]:
    """What a compared expression is called: ``x.skill`` → skill, ``d.get("kind")`` / ``d["kind"]`` → kind."""
    if isinstance(node, ast.Attribute):
        return {node.attr}
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return _constants(node.args[0]) if node.args else set()
    if isinstance(node, ast.Subscript):
        return _constants(node.slice)
    return set()


def dispatch_sites(source: str, names: set[str], kinds: set[str]) -> list[tuple[int, str]]:
    """(line, what) of every comparison of a skill or kind expression against one of ``names`` / ``kinds``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        constants = set().union(*(_constants(s) for s in sides))
        called = set().union(*(_names(s) for s in sides))
        skills = constants & names
        goal = constants & kinds
        if skills and any("skill" in c for c in called):
            found.append((node.lineno, f"skill compared with {sorted(skills)}"))
        elif goal and any("kind" in c for c in called):
            found.append((node.lineno, f"goal kind compared with {sorted(goal)}"))
    return found


def test_no_skill_or_goal_kind_is_compared_outside_the_skills():
    names, kinds = set(skill_names()), set(goal_kinds())
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if path.relative_to(ROOT).parts[0] in OUTSIDE:
            continue
        for line, what in dispatch_sites(path.read_text(), names, kinds):
            found.append(f"{path.relative_to(ROOT.parent)}:{line}: {what}")
    assert not found, "dispatch on a skill or goal kind outside physworld_core/skills/:\n" + "\n".join(found)


def test_the_check_finds_the_dispatches_it_is_for():
    source = textwrap.dedent(
        """
        if spec.skill == "pour": pass
        if plan.skill != "push": pass
        if recon.metrics.get("skill") in ("pour", "sweep"): pass
        if goal.kind == "top": pass
        if spec.goal.kind in CONTENTS or spec.goal.kind == "slot": pass
        if phase == "sweep": pass
        """
    )
    found = dispatch_sites(source, {"pour", "push", "sweep"}, {"top", "slot"})
    assert [line for line, _ in found] == [2, 3, 4, 5, 6]
