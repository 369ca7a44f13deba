"""Skills by name, found the way world families are: one folder per skill, registered by being there.

A skill (``place``, ``push``, ``upright``, ``pour``, ``sweep``, ``lift``…) is a package
``physworld_core/skills/<name>/`` whose ``__init__.py`` says what it is (``RANK``: where it is listed) and whose
modules plug into the generic stages, one module per layer, named after it:

=================  =========================================================================================
module             holds (the layer's base class, which a module's ``HOOKS`` object subclasses)
=================  =========================================================================================
``language``       the phrases the prompt reader knows it by (``perception.language.SkillPhrases``)
``perception``     what perception measures for it (``perception.skill.SkillPerception``)
``video``          how the procedural video moves the object, and how a video is checked (``video.skill``)
``reconstruction`` what reconstruction models for it (``reconstruction.skill.SkillReconstruction``)
``twin``           its goal kinds and how a twin is scored (``twin.skill.SkillTwin``)
``policy``         its plan, controller and reward terms (``policy.skill.SkillPolicy``)
=================  =========================================================================================

A layer asks for a skill's hooks at its own layer only (:func:`layer_hooks`), so a plugin loaded by name never
brings a later layer into an earlier one: the skill's ``video`` module imports ``video`` and what lies before
it, never ``twin``. A skill without a module for a layer gets that layer's base class: the generic behaviour.

This module imports nothing of the pipeline: it sits at the bottom of the layer order, and every layer may use
it. ``tests/core/test_layers.py`` follows its by-name imports like any other.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from functools import cache
from typing import TypeVar

import physworld_core.skills as package
from physworld_core.errors import PhysworldError

LAYERS = ("language", "perception", "video", "reconstruction", "twin", "policy")
"""The layers a skill plugs into, in the pipeline's order."""

DEFAULT_SKILL = "place"
"""The skill of a spec or plan written before skills were named (grasp, carry, release)."""

_PACKAGE = "physworld_core.skills"

H = TypeVar("H")


class UnknownSkillError(PhysworldError):
    """A name that no folder in ``physworld_core/skills/`` registers."""


@cache
def skill_names() -> tuple[str, ...]:
    """Every registered skill, in the order they are listed to a person (each skill's ``RANK``)."""
    ranked = []
    for info in pkgutil.iter_modules(package.__path__):
        if not info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{_PACKAGE}.{info.name}")
        ranked.append((getattr(module, "RANK", 1000), info.name))
    return tuple(name for _, name in sorted(ranked))


def check_skill(name: object, what: str = "skill") -> str:
    """``name`` if a skill of that name is registered.

    Raises:
        UnknownSkillError: it is not, naming those that are.
    """
    names = skill_names()
    if name not in names:
        raise UnknownSkillError(f"{what} must be one of {names}, got {name!r}")
    return str(name)


def layer_hooks(skill: str, layer: str, base: type[H]) -> H:
    """The hooks skill ``skill`` brings to ``layer``: the ``HOOKS`` object of its module named after the layer
    (an instance of ``base``), or an instance of ``base`` itself when the skill has no such module.

    Raises:
        UnknownSkillError: no skill of that name is registered.
        TypeError: the module's ``HOOKS`` is not a ``base``.
    """
    return _layer_hooks(check_skill(skill), layer, base)


@cache
def _layer_hooks(skill: str, layer: str, base: type[H]) -> H:
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {LAYERS}, got {layer!r}")
    module_name = f"{_PACKAGE}.{skill}.{layer}"
    if importlib.util.find_spec(module_name) is None:
        hooks = base()
    else:
        hooks = importlib.import_module(module_name).HOOKS
    if not isinstance(hooks, base):
        raise TypeError(f"{module_name}.HOOKS must be a {base.__name__}, got {type(hooks).__name__}")
    hooks.name = skill
    return hooks


def all_layer_hooks(layer: str, base: type[H]) -> tuple[H, ...]:
    """Every skill's hooks at ``layer``, in the skills' listing order."""
    return tuple(layer_hooks(name, layer, base) for name in skill_names())


def skill_of(module_name: str) -> str:
    """The skill a module of ``physworld_core/skills/<skill>/`` belongs to, from its ``__name__``."""
    parts = module_name.split(".")
    if len(parts) < 3 or parts[:2] != _PACKAGE.split("."):
        raise ValueError(f"{module_name} is not a module of a skill's folder")
    return parts[2]
