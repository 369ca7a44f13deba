"""Errors a user can act on.

Every stage raises a subclass of :class:`PhysworldError` with a message that says *what* was wrong and *where*
(which file, which field, which task). Assets let these propagate so the Dagster run fails with that message
and, because lake writes happen last and atomically, no table is half-written.
"""

from __future__ import annotations


class PhysworldError(ValueError):
    """Base class: bad input or an unrecoverable stage failure, described for a person."""


class SceneError(PhysworldError):
    """A scene package (RGB-D frame, camera, prompt) is malformed."""


class GroundingError(PhysworldError):
    """The prompt names something that cannot be found in the scene."""


class ReconstructionError(PhysworldError):
    """The video cannot be turned into a consistent 4D reconstruction."""


class TwinError(PhysworldError):
    """The physical twin cannot be built or does not settle."""


class VideoModelError(PhysworldError):
    """A learned video model cannot be loaded or run as configured (package, model directory, pipeline)."""


class LakeError(PhysworldError):
    """A Delta table or blob could not be read or written."""


class ExportError(PhysworldError):
    """A dataset export cannot be made as asked (empty selection, bad filter, occupied destination)."""


class TaskExistsError(SceneError):
    """A task id is already registered with a different source or prompt; replacing it needs ``force``.

    ``task_id`` and ``existing`` (the stored ``tasks`` row) let a caller word its own advice (the inbox asks
    for another name, the CLI for ``--force``).
    """

    def __init__(self, message: str, *, task_id: str = "", existing: dict | None = None) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.existing = existing or {}
