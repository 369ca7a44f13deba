"""Task sources by kind: what a task's ``source`` string names, and how its scene is captured.

A source is ``<kind>:<rest>`` (``benchmark:bin:3``, ``maniskill:PushCube-v1:0:256x256``,
``package:<manifest uri>``) or a folder path (a scene package on disk). Each kind is a :class:`TaskSource`
registered here by its prefix; the scene stage asks the registry, never an ``if`` chain.

``package`` and ``folder`` are the user's captures and live with the scene layer (:mod:`physworld_core.ingest`).
``benchmark`` and ``maniskill`` render a simulated world, which only ``physworld_core.evaluation`` may touch:
they register themselves from :mod:`physworld_core.evaluation.sources`, which this registry loads by name the
first time a source of an unknown kind is asked for. That by-name load is the pipeline's one door from a world
into it (a world's first RGB-D frame, nothing more); ``tests/core/test_layers.py`` lists it as such.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, ClassVar

from physworld_core.errors import SceneError

if TYPE_CHECKING:  # types only: ingest registers its sources here
    from physworld_core.limits import PackageLimits
    from physworld_core.scene import ScenePackage
    from physworld_core.store import Store

BUILTIN_MODULES = ("physworld_core.ingest",)
"""Modules of the scene layer that register the user's kinds (``package``, ``folder``) when imported."""
PLUGIN_MODULES = ("physworld_core.evaluation.sources",)
"""Modules that register the simulated worlds' kinds when imported (see the module's docstring)."""


class TaskSource:
    """One kind of task source.

    Attributes:
        kind: the prefix before the first ":" (``None``: the fallback, a folder path).
        form: how a source of this kind is written, for messages.
        has_world: a policy can be executed and scored in the source's world (a benchmark world, a stock env).
    """

    kind: ClassVar[str | None]
    form: ClassVar[str]
    has_world: ClassVar[bool] = False

    def describe(self, source: str, prompt: str | None, task_id: str) -> tuple[str, str | None, int | None]:
        """(the prompt, the family, the seed) a task of this source is registered with: the prompt given, or
        the source's own.

        Raises:
            SceneError: the source is malformed, or it has no prompt of its own and none was given.
        """
        raise NotImplementedError

    def capture(
        self, store: Store, task_id: str, source: str, prompt: str, limits: PackageLimits | None
    ) -> ScenePackage:
        """The scene the source describes (its first RGB-D frame, camera and prompt)."""
        raise NotImplementedError

    def world(self, source: str):
        """The world a policy is executed and scored in (only where :attr:`has_world`)."""
        raise SceneError(
            f"{source} has no simulated world to execute or score a policy in (only "
            f"{' and '.join(k + ':' for k in world_kinds())} sources do)"
        )


SOURCES: dict[str | None, TaskSource] = {}
"""kind → source."""


def register_source(source_class: type[TaskSource]) -> type[TaskSource]:
    """Class decorator adding a source kind."""
    kind = source_class.kind
    if kind in SOURCES and type(SOURCES[kind]) is not source_class:
        raise ValueError(f"task source kind {kind!r} registered twice")
    SOURCES[kind] = source_class()
    return source_class


_loaded: set[str] = set()


def _load(modules: tuple[str, ...]) -> None:
    for module in modules:
        if module not in _loaded:
            _loaded.add(module)
            importlib.import_module(module)


def source_for(source: str) -> TaskSource:
    """The kind of ``source``: its prefix's, or a folder's when it has none that is registered."""
    _load(BUILTIN_MODULES)
    kind = source.split(":", 1)[0] if ":" in source else None
    if kind not in SOURCES:
        _load(PLUGIN_MODULES)
    return SOURCES.get(kind) or SOURCES[None]


def world_kinds() -> list[str]:
    """The kinds of source that have a world to execute a policy in."""
    _load(PLUGIN_MODULES)
    return sorted(k for k, s in SOURCES.items() if k is not None and s.has_world)
