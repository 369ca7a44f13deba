"""What every pluggable backend family shares (video generators, depth predictors, mesh completers): a base
class that holds a validated config, and a name → class registry whose ``load`` builds that config from an
instance, a dict (what a Dagster ``Config`` converts to) or keyword settings.

One implementation, so every family refuses an unknown name or setting with the same message shape."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any, ClassVar, Generic, TypeVar


class ConfiguredBackend:
    """Subclasses set ``name`` and ``config_class`` (a frozen dataclass validated in ``__post_init__``)."""

    name: ClassVar[str]
    config_class: ClassVar[type]

    def __init__(self, config: Any = None) -> None:
        if config is None:
            config = self.config_class()
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}"
            )
        self.config = config


B = TypeVar("B", bound=ConfiguredBackend)


def build_config(
    what: str, config_class: type, config: Any = None, settings: dict[str, Any] | None = None
) -> Any:
    """``config_class`` from ``None`` (defaults or ``settings``), an instance, or a dict of its fields."""
    settings = settings or {}
    if config is not None and settings:
        raise ValueError(f"{what}: pass either a config or keyword settings, not both")
    if config is None:
        config = settings
    if isinstance(config, dict):
        known = {f.name for f in fields(config_class)} if is_dataclass(config_class) else set(config)
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(
                f"{what} has no setting(s) {', '.join(unknown)}; it accepts {', '.join(sorted(known)) or 'none'}"
            )
        return config_class(**config)
    if not isinstance(config, config_class):
        raise TypeError(f"{what} needs a {config_class.__name__} or a dict, got {type(config).__name__}")
    return config


class Registry(Generic[B]):
    """name → backend class for one family (``kind``, e.g. "depth backend")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.classes: dict[str, type[B]] = {}

    def register(self, backend_class: type[B]) -> type[B]:
        """Class decorator adding ``backend_class`` under its ``name``."""
        name = backend_class.name
        if self.classes.get(name, backend_class) is not backend_class:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self.classes[name] = backend_class
        return backend_class

    def load(self, name: str, config: Any = None, **settings: Any) -> B:
        """Instantiate backend ``name``.

        Raises:
            ValueError: unknown backend, unknown setting, or an invalid value (the config's own error).
        """
        if name not in self.classes:
            raise ValueError(f"unknown {self.kind} {name!r}; registered: {', '.join(sorted(self.classes))}")
        backend_class = self.classes[name]
        return backend_class(
            build_config(f"{self.kind} {name!r}", backend_class.config_class, config, settings)
        )
