"""The lake and its blob store, handed to every stage runner as one object."""

from __future__ import annotations

from dataclasses import dataclass

from physworld_core.errors import LakeError
from physworld_core.lake import BlobStore, Lake


@dataclass(frozen=True)
class Store:
    lake: Lake
    blobs: BlobStore

    @classmethod
    def at(cls, root: str, storage_options: dict[str, str] | None = None) -> Store:
        lake = Lake(root, storage_options=storage_options)
        return cls(lake, BlobStore.from_lake(lake))

    def one_row(self, table: str, task_id: str) -> dict:
        """The single row of a one-row-per-task table, with a clear error when the stage has not run."""
        frame = self.lake.read_partition(table, task_id)
        if frame.height == 0:
            raise LakeError(f"table {table!r} has no row for task {task_id!r}: materialize that stage first")
        return frame.row(0, named=True)
