"""A perception stored as one ``.npz`` blob and read back as it was: same types, same numbers, same objects.

Frozen dataclasses (the perception, its plane, objects, instruction, grounding and the skill's view) are written
as a JSON tree beside their arrays: every array under a key of its own, with its dtype and shape; floats as JSON
numbers (which read back exactly); tuples, numpy scalars and non-string dict keys marked so they read back as
they were; an object met twice (the grounded target is one of the objects) written once and referred to after,
so the grounding's target *is* the perception's object again. Only the types of :func:`stored_types` are read
back, by name: nothing else can be constructed from a blob (and nothing is unpickled).
"""

from __future__ import annotations

import dataclasses
import io
import json
from functools import cache
from typing import Any

import numpy as np

from physworld_core.errors import LakeError
from physworld_core.perception.grounding import Grounding
from physworld_core.perception.language import Instruction, SkillPhrases
from physworld_core.perception.perceive import Perception, TaskPerception
from physworld_core.perception.plane import Plane
from physworld_core.perception.segment import SceneObject
from physworld_core.perception.skill import SkillPerception
from physworld_core.skills.registry import all_layer_hooks

FORMAT = "physworld-perception/1"
"""The stored format's name, checked when read."""

_TREE = "tree.json"


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


@cache
def stored_types() -> dict[str, type]:
    """The types a stored perception may hold, by ``module:qualname``: the perception's own and what each
    registered skill stores (its view's types, its instruction details')."""
    types = [TaskPerception, Perception, Plane, SceneObject, Instruction, Grounding]
    for hooks in all_layer_hooks("perception", SkillPerception):
        view = hooks.view_type if isinstance(hooks.view_type, tuple) else (hooks.view_type,)
        types += [t for t in view if t is not None] + list(hooks.stored_types)
    for phrases in all_layer_hooks("language", SkillPhrases):
        types += phrases.stored_types
    return {_name(t): t for t in types}


def encode(value: Any) -> bytes:
    """``value`` (a :class:`Perception` or anything made of the stored types) as ``.npz`` bytes."""
    arrays: dict[str, np.ndarray] = {}
    memo: dict[int, int] = {}
    known = stored_types()

    def tree(v: Any) -> Any:
        if v is None or isinstance(v, bool | str):
            return v
        if isinstance(v, np.generic):
            return {"__np__": v.dtype.str, "v": v.item()}
        if isinstance(v, int | float):
            return v
        if isinstance(v, np.ndarray):
            key = f"a{len(arrays)}"
            arrays[key] = v
            return {"__array__": key}
        if isinstance(v, tuple):
            return {"__tuple__": [tree(x) for x in v]}
        if isinstance(v, list):
            return [tree(x) for x in v]
        if isinstance(v, dict):
            return {"__dict__": [[tree(k), tree(x)] for k, x in v.items()]}
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            if id(v) in memo:
                return {"__ref__": memo[id(v)]}
            name = _name(type(v))
            if name not in known:
                raise TypeError(f"cannot store a {name}: not one of the perception's stored types")
            memo[id(v)] = len(memo)
            fields = {f.name: tree(getattr(v, f.name)) for f in dataclasses.fields(v) if f.init}
            return {"__type__": name, "__id__": memo[id(v)], "fields": fields}
        raise TypeError(f"cannot store a {type(v).__name__} in a perception")

    document = {"format": FORMAT, "value": tree(value)}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays, **{_TREE: np.frombuffer(json.dumps(document).encode(), np.uint8)})
    return buffer.getvalue()


def decode(data: bytes, where: str = "the stored perception") -> Any:
    """Inverse of :func:`encode`.

    Raises:
        LakeError: the bytes are not a stored perception, or name a type that is not stored.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError) as exc:
        raise LakeError(f"{where} is not an .npz blob ({exc})") from None
    if _TREE not in arrays:
        raise LakeError(f"{where} holds no {_TREE}: not a stored perception")
    document = json.loads(arrays.pop(_TREE).tobytes())
    if document.get("format") != FORMAT:
        raise LakeError(f"{where} is in format {document.get('format')!r}, expected {FORMAT!r}")
    known = stored_types()
    made: dict[int, Any] = {}

    def value(t: Any) -> Any:
        if isinstance(t, list):
            return [value(x) for x in t]
        if not isinstance(t, dict):
            return t
        if "__np__" in t:
            return np.dtype(t["__np__"]).type(t["v"])
        if "__array__" in t:
            return arrays[t["__array__"]]
        if "__tuple__" in t:
            return tuple(value(x) for x in t["__tuple__"])
        if "__dict__" in t:
            return {value(k): value(x) for k, x in t["__dict__"]}
        if "__ref__" in t:
            return made[t["__ref__"]]
        if "__type__" in t:
            cls = known.get(t["__type__"])
            if cls is None:
                raise LakeError(f"{where} holds a {t['__type__']}, which is not a stored type")
            obj = cls(**{k: value(x) for k, x in t["fields"].items()})
            made[t["__id__"]] = obj
            return obj
        raise LakeError(f"{where} holds an unknown entry {sorted(t)}")

    return value(document["value"])
