"""Video backends by name: a plain dict registry and one ``load``.

The asset picks a backend with a string from its config (``"procedural"`` offline, ``"diffusers"`` for
Wan / CogVideoX / LTX image-to-video weights in a local folder), so adding one is a class plus one line
here, never an ``if`` chain in the asset.

A backend built on what comes after this stage (``"learned"``: the platform's own world model, trained on
the exports) cannot be imported here without turning the layers around: the composition root registers it
with :func:`register`, as a function that imports its class when a run first asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from physworld_core.backends import build_config
from physworld_core.video.base import VideoBackend
from physworld_core.video.diffusers_backend import DiffusersI2VBackend
from physworld_core.video.procedural import ProceduralBackend

BACKENDS: dict[str, type[VideoBackend]] = {
    ProceduralBackend.name: ProceduralBackend,
    DiffusersI2VBackend.name: DiffusersI2VBackend,
}
"""name → backend class. A heavy backend registers its class here and imports its libraries in __init__."""


DEFERRED: dict[str, Callable[[], type[VideoBackend]]] = {}
"""name → a function importing a backend class that lives in a later layer (see :func:`register`)."""


def register(name: str, import_class: Callable[[], type[VideoBackend]]) -> None:
    """Make backend ``name`` loadable; ``import_class()`` imports and returns its class on first use (so its
    heavy libraries load only in a run that uses it). Registering a name again replaces the function.

    Raises:
        ValueError: ``name`` is one of this package's own backends.
    """
    if name in BACKENDS and name not in DEFERRED:
        raise ValueError(f"video backend {name!r} is already registered by the video stage")
    BACKENDS.pop(name, None)
    DEFERRED[name] = import_class


def backend_class(name: str) -> type[VideoBackend]:
    """The class registered as ``name`` (a deferred one is imported now).

    Raises:
        ValueError: unknown backend name, or a deferred import that gives another backend.
    """
    if name not in BACKENDS and name in DEFERRED:
        imported = DEFERRED[name]()
        if not (isinstance(imported, type) and issubclass(imported, VideoBackend) and imported.name == name):
            raise ValueError(f"video backend {name!r} was registered with a function that gives {imported!r}")
        BACKENDS[name] = imported
    if name not in BACKENDS:
        known = ", ".join(sorted(set(BACKENDS) - set(DEFERRED)))
        later = f" (and from later layers: {', '.join(sorted(DEFERRED))})" if DEFERRED else ""
        raise ValueError(f"unknown video backend {name!r}; registered: {known}{later}")
    return BACKENDS[name]


def load(name: str, config: Any = None) -> VideoBackend:
    """Instantiate the backend ``name`` from ``None`` (its defaults), an instance of its ``config_class``, or a
    dict of its fields (what a Dagster ``Config`` converts to at the asset boundary).

    Raises:
        ValueError: unknown backend name, unknown config fields, or invalid config values.
    """
    chosen = backend_class(name)
    return chosen(build_config(f"video backend {name!r}", chosen.config_class, config))
