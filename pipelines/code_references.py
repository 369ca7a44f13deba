"""Each asset links to the function that defines it, also when a decorator wraps that function.

``dg.with_source_code_references`` takes the file from the compute function's code object, which for a
wrapped function (``@retry_on_outage``) is the wrapper's module; here the wrapped function is unwrapped first,
so the catalog's "open source" link lands on the asset's own definition.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence

import dagster as dg
from dagster._core.definitions.metadata.source_code import (  # no public name for the reference builder
    CodeReferencesMetadataSet,
    CodeReferencesMetadataValue,
    LocalFileCodeReference,
)


def _reference(assets_def: dg.AssetsDefinition) -> LocalFileCodeReference | None:
    compute = assets_def.op.compute_fn
    fn = inspect.unwrap(getattr(compute, "decorated_fn", compute))
    path = inspect.getsourcefile(fn)
    if path is None:
        return None
    return LocalFileCodeReference(file_path=os.path.abspath(path), line_number=inspect.getsourcelines(fn)[1])


def with_code_references(definitions: Sequence) -> list:
    """``definitions`` with a code reference on every asset computed by a function (specs keep theirs)."""
    linked = []
    for item in definitions:
        reference = _reference(item) if isinstance(item, dg.AssetsDefinition) and item.is_executable else None
        if reference is None:
            linked.append(item)
            continue
        metadata = CodeReferencesMetadataSet(
            code_references=CodeReferencesMetadataValue(code_references=[reference])
        )
        linked.extend(
            dg.map_asset_specs(
                lambda spec, m=metadata: spec.replace_attributes(metadata={**spec.metadata, **m}), [item]
            )
        )
    return linked
