"""The place skill's reconstruction: a shelf goal as a fixture, its board and the runs of books on it, with the
row's free gap (:class:`ShelfGeometry`); every other goal is the generic open box or solid support."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from physworld_core.perception.perceive import Perception
from physworld_core.perception.plane import Plane
from physworld_core.perception.segment import SceneObject
from physworld_core.reconstruction.geometry import fixture_on_table
from physworld_core.reconstruction.skill import Fixture3D, SkillReconstruction
from physworld_core.reconstruction.types import Box, Fixture
from physworld_core.skills.place.shelf import ShelfConfig, Slot, row_profile
from physworld_core.skills.registry import skill_of


@dataclass(frozen=True)
class ShelfGeometry(Fixture):
    """A board with things standing on it in a row (bookends, books), and the row's free gap, in its own frame
    (origin: the footprint centre on the table, x along the row, z up).

    Args:
        board_half: half sizes of the board along and across the row.
        board_height: the board's top above the table.
        blocks: what stands on the board, as boxes from the board's top up (one per run along the row).
        slot_x: the free gap's middle along the row.
        slot_half_width: half its free width along the row.
    """

    kind: ClassVar[str] = "shelf"
    board_half: tuple[float, float]
    board_height: float
    blocks: tuple[Box, ...]
    slot_x: float
    slot_half_width: float

    def __post_init__(self) -> None:
        if min(self.board_half) <= 0 or self.board_height <= 0 or self.slot_half_width <= 0:
            raise ValueError(f"shelf geometry must be positive, got {self}")
        if abs(self.slot_x) > self.board_half[0]:
            raise ValueError(f"the shelf's slot at x={self.slot_x:.3f} is off its board ({self.board_half})")

    @property
    def wall_height(self) -> float:
        """The highest point of the fixture above the table (what a carry must clear)."""
        return max([self.board_height] + [c[2] + h[2] for c, h in self.blocks])

    def boxes(self) -> list[Box]:
        h = self.board_height
        return [((0.0, 0.0, h / 2), (self.board_half[0], self.board_half[1], h / 2)), *self.blocks]

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "board_half": list(self.board_half),
            "board_height": self.board_height,
            "blocks": [[list(c), list(h)] for c, h in self.blocks],
            "slot_x": self.slot_x,
            "slot_half_width": self.slot_half_width,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ShelfGeometry:
        return cls(
            board_half=tuple(d["board_half"]),
            board_height=d["board_height"],
            blocks=tuple((tuple(c), tuple(h)) for c, h in d["blocks"]),
            slot_x=d["slot_x"],
            slot_half_width=d["slot_half_width"],
        )


def shelf_model(
    shelf: SceneObject, slot: Slot, plane: Plane, table_height: float, config: ShelfConfig = ShelfConfig()
) -> tuple[ShelfGeometry, np.ndarray, np.ndarray, np.ndarray]:
    """A shelf as a fixture: (geometry, display vertices, faces, pose).

    The board spans the row's seen extent and depth, up to the board top perception measured. Each run of
    bins where something stands on it (a bookend, a book, several books of one height side by side) becomes one
    box from the board up to that run's top (98th percentile) and across the points that stand there; the slot
    stays open between them. What was never seen (the far side of a book) is filled as far as its seen top
    reaches across: a shelved book is as deep as its top shows.
    """
    profile = row_profile(shelf, plane, config, yaw=slot.row_yaw)
    board, edges = profile.board_height, profile.edges
    t_lo, t_hi = np.percentile(profile.t, [1, 99])
    s_mid, t_mid = 0.5 * (edges[0] + edges[-1]), 0.5 * (t_lo + t_hi)
    blocks = []
    for first, end in profile.runs(standing=True):
        inside = (
            (profile.s >= edges[first]) & (profile.s < edges[end]) & (profile.h > board + config.standing_m)
        )
        if not inside.any():
            continue
        top = float(np.percentile(profile.h[inside], 98))
        lo, hi = np.percentile(profile.t[inside], [2, 98])
        blocks.append(
            (
                (
                    float(0.5 * (edges[first] + edges[end]) - s_mid),
                    float(0.5 * (lo + hi) - t_mid),
                    0.5 * (board + top),
                ),
                (
                    float(0.5 * (edges[end] - edges[first])),
                    float(max(0.5 * (hi - lo), 0.002)),
                    0.5 * (top - board),
                ),
            )
        )
    slot_s = float((np.asarray(slot.centre_uv) - profile.centre_uv) @ profile.axis)
    geometry = ShelfGeometry(
        board_half=(float(0.5 * (edges[-1] - edges[0])), float(0.5 * (t_hi - t_lo))),
        board_height=board,
        blocks=tuple(blocks),
        slot_x=slot_s - s_mid,
        slot_half_width=0.5 * slot.width,
    )
    origin_uv = profile.centre_uv + s_mid * profile.axis + t_mid * profile.across
    origin, ahead = plane.from_plane_coords(np.array([[*origin_uv, 0.0], [*(origin_uv + profile.axis), 0.0]]))
    yaw = float(np.arctan2(ahead[1] - origin[1], ahead[0] - origin[0]))
    return fixture_on_table(geometry, origin[:2], yaw, table_height)


class PlaceReconstruction(SkillReconstruction):
    name = skill_of(__name__)
    fixture_types: ClassVar[dict] = {ShelfGeometry.kind: ShelfGeometry}

    def goal_fixture(
        self, goal: SceneObject, perception: Perception, table_height: float
    ) -> Fixture3D | None:
        """A shelf's board and row when the prompt asks for its free gap; else the generic fixture."""
        if perception.view is not None:
            return shelf_model(goal, perception.view, perception.plane, table_height)
        return super().goal_fixture(goal, perception, table_height)


HOOKS = PlaceReconstruction()
