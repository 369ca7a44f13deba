"""Loading a user's model weights (video, depth, segmentation backends): one place for the `models` extra
check, the device choice and the cache of loaded weights.

Every backend that runs a learned model takes a local folder (no weights are downloaded at run time) and must
fail with the same clear messages: which package is missing and how to install it, which device is absent,
which folder could not be loaded and why.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODELS_EXTRA_HINT = (
    "install the project's `models` extra into this environment: `.venv/bin/pip install -e '.[models]'` "
    "(`make setup` installs it)"
)

_CACHE: dict[tuple, Any] = {}
"""The last loaded weights per kind, keyed by folder, its config's mtime and the device. One entry per kind:
a stage builds a backend per task, which must not reload the weights each time, and must not keep every
model it ever saw in memory."""


def require_models_extra(what: str, error: type[Exception], *modules: str) -> None:
    """Import ``modules`` or raise ``error`` naming them and the extra to install.

    Importing (not just finding the spec) also catches an installed but broken package, whose own message is
    kept.
    """
    failed = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            failed.append(f"{module} ({exc})")
    if failed:
        raise error(f"the {what} cannot import {', '.join(failed)}; {MODELS_EXTRA_HINT}")


def pick_device(device: str, error: type[Exception]) -> str:
    """``"auto"`` → CUDA when present, else CPU; an asked-for CUDA device that is absent is an ``error``."""
    # torch (the models extra) only when a device is picked: every layer imports this foundation module.
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise error(
            f"device {device!r} asked for, but torch {torch.__version__} sees no CUDA device; use 'cpu'"
        )
    return device


def cached_pretrained(
    kind: str, key: tuple, load: Callable[[], Any], error: type[Exception], what: str
) -> Any:
    """``load()``'s result, loaded once per ``(kind, key)``; a failure to load becomes ``error`` naming
    ``what`` (transformers raises OSError, ValueError, KeyError... for a bad folder; its reason is kept)."""
    full_key = (kind, *key)
    if full_key not in _CACHE:
        for stale in [k for k in _CACHE if k[0] == kind]:
            del _CACHE[stale]
        try:
            _CACHE[full_key] = load()
        except Exception as exc:
            raise error(f"{what}: {type(exc).__name__}: {exc}") from exc
    return _CACHE[full_key]


def load_transformers_model(
    kind: str,
    model_dir,
    device: str,
    model_class: str,
    processor_class: str,
    error: type[Exception],
    what: str,
) -> tuple[Any, Any]:
    """``(model, processor)`` of transformers classes ``model_class`` / ``processor_class`` from a local
    ``model_dir`` on ``device``, in eval mode, cached per :func:`cached_pretrained`."""
    # transformers (the models extra) only when a model loads: every layer imports this foundation module.
    import transformers

    folder = Path(model_dir)

    def load() -> tuple[Any, Any]:
        processor = getattr(transformers, processor_class).from_pretrained(str(folder), local_files_only=True)
        model = getattr(transformers, model_class).from_pretrained(str(folder), local_files_only=True)
        return model.to(device).eval(), processor

    key = (str(folder), (folder / "config.json").stat().st_mtime_ns, device)
    return cached_pretrained(
        kind, key, load, error, f"model_dir {str(folder)!r}: cannot load {what} on {device}"
    )
