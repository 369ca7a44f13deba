"""Layers point one way: the order written in the README's layout section, enforced on the whole import graph.

Every import counts: at the top of a module, inside a function, and the skill modules a layer loads by name
through the skill registry (see ``import_graph``). The order, left to right (a module may import only modules
of its own layer or of layers to its left)::

    foundation (errors, backends, limits, models, robot, skills.registry, each skill's __init__)
    → lake (and store) → scene (scene, sim, sources, ingest, inbox)
    → perception → video → reconstruction → twin → policy → skills.base → evaluation → export → worldmodel

A skill's module named after a layer (``skills/pour/video.py``) sits at that layer; a skill's other modules
(``skills/place/shelf.py``) sit at the highest layer they import. ``world/`` (the hidden truth) may be imported
by ``evaluation/`` alone, and no pipeline stage (perception, video, reconstruction, twin, policy, a skill)
reaches ``world/`` or ``evaluation/``, however many imports away.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import physworld_core

sys.path.insert(0, str(Path(__file__).parent))
from import_graph import build_graph  # a helper beside this test, not a package module

ROOT = Path(physworld_core.__file__).resolve().parent

LAYERS = (
    "foundation",
    "lake",
    "scene",
    "perception",
    "video",
    "reconstruction",
    "twin",
    "policy",
    "skills",
    "evaluation",
    "export",
    "worldmodel",
)
"""The layer order, left to right."""

PACKAGE_LAYER = {
    "errors": "foundation",
    "backends": "foundation",
    "limits": "foundation",
    "models": "foundation",
    "robot": "foundation",
    "lake": "lake",
    "store": "lake",
    "scene": "scene",
    "sim": "scene",
    "sources": "scene",
    "ingest": "scene",
    "inbox": "scene",
    "perception": "perception",
    "video": "video",
    "reconstruction": "reconstruction",
    "twin": "twin",
    "policy": "policy",
    "evaluation": "evaluation",
    "export": "export",
    "worldmodel": "worldmodel",
}
"""The layer of each top-level module or package of ``physworld_core`` (``skills`` and ``world`` apart)."""

SKILL_MODULE_LAYER = {
    "language": "perception",
    "perception": "perception",
    "video": "video",
    "reconstruction": "reconstruction",
    "twin": "twin",
    "policy": "policy",
}
"""A skill's module named after a layer sits at it (``language`` is the perception package's prompt reader)."""

ALLOWED = {
    ("physworld_core.sources", "physworld_core.evaluation.sources"): (
        "the scene stage is the door from a simulated world into the pipeline: a benchmark or ManiSkill source "
        "renders its first frame (DESIGN: capture_scene is the only door); no stage reaches it"
    ),
}
"""The one arrow against the order, and why."""

STAGES = ("perception", "video", "reconstruction", "twin", "policy", "skills")
"""The pipeline's stages: none may reach the hidden truth or the evaluation that holds it."""

TRUTH = ("world", "evaluation")


def layers_of(graph, package: str = "physworld_core") -> dict[str, int]:
    """Each module's layer (an index into :data:`LAYERS`); ``None`` for ``world`` and the package root."""
    index = {name: i for i, name in enumerate(LAYERS)}
    fixed: dict[str, int | None] = {}
    for module in graph.files:
        parts = module.split(".")
        if len(parts) == 1:
            fixed[module] = index["foundation"]
        elif parts[1] == "world":
            fixed[module] = None
        elif parts[1] == "skills":
            if len(parts) > 2 and parts[2] == "base":
                fixed[module] = index["skills"]
            elif len(parts) <= 3:
                fixed[module] = index["foundation"]  # the registry and each skill's description
            elif parts[3] in SKILL_MODULE_LAYER:
                fixed[module] = index[SKILL_MODULE_LAYER[parts[3]]]
        else:
            fixed[module] = index[PACKAGE_LAYER[parts[1]]]
    # A skill's helper module sits at the highest layer it imports (found by relaxing until nothing moves).
    layer = dict(fixed)
    helpers = [m for m in graph.files if m not in fixed]
    for m in helpers:
        layer[m] = 0
    for _ in range(len(helpers) + 1):
        changed = False
        for m in helpers:
            needed = max((layer[t] for t in graph.edges[m] if layer.get(t) is not None), default=0)
            if needed > layer[m]:
                layer[m], changed = needed, True
        if not changed:
            break
    return layer


def violations(graph, package: str = "physworld_core") -> list[str]:
    """Every import against the order (or of the hidden truth from outside evaluation), one line each."""
    layer = layers_of(graph, package)
    found = []
    for module, edges in sorted(graph.edges.items()):
        for target, (line, how) in sorted(edges.items()):
            where = f"{graph.files[module].relative_to(graph.files[package].parent.parent)}:{line}"
            importer_top = module.split(".")[1] if "." in module else ""
            if any(m == module and (t == target or t.startswith(target + ".")) for m, t in ALLOWED):
                continue
            if target.split(".")[1:2] == ["world"]:
                if importer_top not in ("world", "evaluation"):
                    found.append(f"{where}: {module} imports the hidden truth {target} ({how})")
                continue
            if layer.get(module) is None or layer.get(target) is None:
                continue
            if layer[target] > layer[module]:
                found.append(
                    f"{where}: {module} ({LAYERS[layer[module]]}) imports {target} "
                    f"({LAYERS[layer[target]]}, to its right; {how})"
                )
    return found


def reaches_truth(graph, package: str = "physworld_core") -> list[str]:
    """Every pipeline-stage module that reaches ``world`` or ``evaluation``, with the chain of imports."""
    found = []
    for module in sorted(graph.files):
        parts = module.split(".")
        if len(parts) < 2 or parts[1] not in STAGES:
            continue
        for target, chain in graph.reachable(module).items():
            if target.split(".")[1:2] and target.split(".")[1] in TRUTH:
                found.append(" -> ".join(chain))
                break
    return found


def test_layers_point_one_way():
    graph = build_graph(ROOT)
    bad = violations(graph)
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_no_pipeline_stage_reaches_the_truth_even_transitively():
    graph = build_graph(ROOT)
    bad = reaches_truth(graph)
    assert not bad, "pipeline stages that reach world/ or evaluation/:\n" + "\n".join(bad)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "physworld_core"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for folder in {p.parent for p in root.rglob("*.py")} | {root}:
        (folder / "__init__.py").touch()
    return root


def test_an_indirect_import_of_the_truth_from_a_stage_fails(tmp_path):
    """What the old test let through: a policy module importing, inside a function, an evaluation module that
    imports the world (the oracle_twin learner did this)."""
    root = _tree(
        tmp_path,
        {
            "policy/train.py": """
                def learn_in_the_world():
                    from physworld_core.evaluation.worlds import make
                    return make()
            """,
            "evaluation/worlds.py": "from physworld_core.world import get_family\n",
            "world/__init__.py": "def get_family(name):\n    return name\n",
        },
    )
    graph = build_graph(root)
    assert any("policy.train -> physworld_core.evaluation.worlds" in c for c in reaches_truth(graph))
    assert any(
        "policy.train (policy) imports physworld_core.evaluation.worlds" in v for v in violations(graph)
    )


def test_a_skill_loaded_by_name_counts_and_type_checking_imports_do_not(tmp_path):
    """The registry's plugin loads are imports the walker follows: perception loading every skill's video
    module is an arrow to the right; an import under ``if TYPE_CHECKING:`` never runs."""
    root = _tree(
        tmp_path,
        {
            "perception/grounding.py": """
                from typing import TYPE_CHECKING
                from physworld_core.skills.registry import layer_hooks
                if TYPE_CHECKING:
                    from physworld_core.twin.spec import TwinSpec
                def hooks(skill):
                    return layer_hooks(skill, "video", object)
            """,
            "skills/registry.py": "def layer_hooks(skill, layer, base):\n    return base()\n",
            "skills/pour/video.py": "X = 1\n",
            "twin/spec.py": "class TwinSpec:\n    pass\n",
        },
    )
    bad = violations(build_graph(root))
    assert any("perception.grounding (perception) imports physworld_core.skills.pour.video" in v for v in bad)
    assert not any("twin.spec" in v for v in bad)


@pytest.mark.parametrize("layer", LAYERS)
def test_every_layer_has_modules(layer):
    """The map names real packages (a renamed package would silently leave the order)."""
    graph = build_graph(ROOT)
    assert LAYERS.index(layer) in set(layers_of(graph).values())


def test_the_readme_states_this_order():
    """The order a reader sees in the README's layout section is the one enforced here."""
    readme = (ROOT.parent / "README.md").read_text()
    section = readme[readme.index("## Layout") :]
    [line] = [ln for ln in section.splitlines() if ln.startswith("foundation →")]
    assert tuple(part.strip() for part in line.split("→")) == LAYERS
