"""The lake: declared Delta tables (one per asset) plus a content-addressed blob store.

Pure library (no Dagster). Assets write a task's rows with :meth:`Lake.write_partition`, which replaces
that task's rows atomically, and store large artefacts with :meth:`BlobStore.put_file`, keeping the
returned URI and SHA-256 in their rows.
"""

from __future__ import annotations

from physworld_core.lake.blobs import BlobRef, BlobStore
from physworld_core.lake.delta import Lake, WriteResult
from physworld_core.lake.storage import s3_storage_options
from physworld_core.lake.tables import TABLES, TableSpec

__all__ = ["TABLES", "BlobRef", "BlobStore", "Lake", "TableSpec", "WriteResult", "s3_storage_options"]
