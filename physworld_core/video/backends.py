"""Video backends by name: a plain dict registry and one ``load``.

The asset picks a backend with a string from its config (``"procedural"`` offline, ``"diffusers"`` for
Wan / CogVideoX / LTX image-to-video weights in a local folder), so adding one is a class plus one line
here, never an ``if`` chain in the asset.
"""

from __future__ import annotations

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


def load(name: str, config: Any = None) -> VideoBackend:
    """Instantiate the backend ``name`` from ``None`` (its defaults), an instance of its ``config_class``, or a
    dict of its fields (what a Dagster ``Config`` converts to at the asset boundary).

    Raises:
        ValueError: unknown backend name, unknown config fields, or invalid config values.
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown video backend {name!r}; registered: {', '.join(sorted(BACKENDS))}")
    backend_class = BACKENDS[name]
    return backend_class(build_config(f"video backend {name!r}", backend_class.config_class, config))
