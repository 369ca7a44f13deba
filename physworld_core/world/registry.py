"""Task families by name, ManiSkill-style: a family turns a seed into a world and knows how to score it."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class WorldFamily:
    """Args:
    name: registry key (used in task ids and the benchmark table).
    env_id: the registered ManiSkill env id of the ground-truth world.
    sample_layout: seed -> layout (all hidden truth: shapes, poses, masses, frictions, colours).
    prompt_for: (layout, phrasing index) -> natural-language instruction.
    num_phrasings: how many phrasings ``prompt_for`` knows.
    oracle: world env (unwrapped) -> a zero-argument policy returning the next action; it may read any
        privileged state. Proves the family solvable; never used by the pipeline.
    oracle_control_mode: ManiSkill controller the oracle's actions are for.
    """

    name: str
    env_id: str
    sample_layout: Callable[[int], Any]
    prompt_for: Callable[[Any, int], str]
    num_phrasings: int
    oracle: Callable[[Any], Callable[[], Any]] | None = None
    oracle_control_mode: str = "pd_ee_delta_pose"

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"family name must be an identifier, got {self.name!r}")
        if self.num_phrasings < 1:
            raise ValueError(f"family {self.name} needs at least one phrasing")


FAMILIES: dict[str, WorldFamily] = {}


def register_family(family: WorldFamily) -> WorldFamily:
    if family.name in FAMILIES:
        raise ValueError(f"world family {family.name!r} registered twice")
    FAMILIES[family.name] = family
    return family


def get_family(name: str) -> WorldFamily:
    _load_builtin()
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown world family {name!r}; known: {', '.join(sorted(FAMILIES))}") from None


_NOT_FAMILIES = frozenset({"registry", "palette", "scripted", "shapes", "layout", "base"})


def _load_builtin() -> None:
    """Import every family module of this package (each registers itself on import), so adding a family is
    adding a file."""
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name not in _NOT_FAMILIES and not info.name.startswith("_"):
            importlib.import_module(f"physworld_core.world.{info.name}")


def family_names() -> list[str]:
    _load_builtin()
    return sorted(FAMILIES)
