"""Find the free gap in a shelf's row: where a book (or anything stood up like its neighbours) goes.

A shelf seen from one view is a board with things standing on it side by side: bookends at the ends, books
between them. Segmentation merges all of it into one "container" (walls around a floor); what the prompt asks
for is the one gap in the row wide enough for the object. So along the row axis (the footprint's long side) the
board is cut into thin bins, and each bin is *occupied* when something stands on the board there (a point
higher than :attr:`ShelfConfig.standing_m` above the board top), *free* when only the board is seen, and
*unseen* when the camera saw nothing there (deep in a narrow gap, behind a taller neighbour). A gap is a run of
bins that are not occupied, closed on both sides by occupied bins; the slot is the widest gap that fits the
object's thickness and shows some board. A gap the camera barely saw into is taken only when no seen one
fits: seen along the row, the board between two books is hidden by the nearer one, yet the prompt says a
slot is there, and such a gap is the real slot (regression tests on worlds seen that way:
``test_a_slot_seen_along_the_row_is_where_the_world_has_it``). A short book hidden whole behind a taller one
would read as such a gap too, which is why a seen gap wins.

The row usually runs along the footprint's long side, but not always: a short row of thick books on a deep
board is as deep as it is long, and which side the footprint fit calls long is then chance (a row a few
millimetres shorter than the board is deep; regression test ``test_book_0016_…``). So when the footprint is
nearly square, the short side is tried too, and taken when it has the better kind of gap (seen into, or any at
all).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physworld_core.errors import GroundingError
from physworld_core.perception.plane import Plane
from physworld_core.perception.segment import SceneObject


@dataclass(frozen=True)
class ShelfConfig:
    """Args:
    bin_m: bin length along the row.
    standing_m: a point this far above the board top stands on it (books, bookends), else it is board.
    clearance_m: the gap must be this much wider than the object's thickness.
    min_free_fraction: the share of a gap's bins where the board itself must be seen for the gap to count as
        seen; one seen less is taken only when no seen gap fits.
    square_ratio: a footprint whose short side is at least this share of its long side is "square": which
        side the row runs along is then not told by the footprint, and the short side is tried too. A more
        oblong one is not: a piece of a shelf cut off by segmentation (a row's end, seen alone) can show a
        false gap across its row.
    """

    bin_m: float = 0.002
    standing_m: float = 0.015
    clearance_m: float = 0.004
    min_free_fraction: float = 0.25
    square_ratio: float = 0.8

    def __post_init__(self) -> None:
        if not (0 < self.bin_m <= 0.01 and 0 < self.standing_m < 0.1 and 0 <= self.clearance_m < 0.05):
            raise ValueError(f"ShelfConfig lengths out of range: {self}")
        if not 0 <= self.min_free_fraction <= 1:
            raise ValueError(f"min_free_fraction must lie in [0, 1], got {self.min_free_fraction}")
        if not 0 < self.square_ratio <= 1:
            raise ValueError(f"square_ratio must lie in (0, 1], got {self.square_ratio}")


@dataclass(frozen=True)
class Slot:
    """The free gap of a shelf's row, in the plane frame of the perception that found it.

    Args:
        centre_uv: middle of the gap on the board, plane coordinates (u, v).
        row_yaw: direction of the row in the plane frame (radians).
        width: free length along the row (m).
        depth: the board's length across the row (m).
        board_height: height of the board's top above the plane (m).
    """

    centre_uv: tuple[float, float]
    row_yaw: float
    width: float
    depth: float
    board_height: float

    def centre_world(self, plane: Plane) -> np.ndarray:
        """The gap's middle on the board's top, world frame."""
        return plane.from_plane_coords(np.array([[*self.centre_uv, self.board_height]]))[0]

    def to_dict(self) -> dict:
        return {
            "centre_uv": list(self.centre_uv),
            "row_yaw": self.row_yaw,
            "width": self.width,
            "depth": self.depth,
            "board_height": self.board_height,
        }


@dataclass(frozen=True, eq=False)
class RowProfile:
    """A shelf's points in its row frame, binned along the row.

    Args:
        centre_uv, axis, across: the frame (plane coordinates): footprint centre, row direction, across it.
        s, t, h: each point's position along the row, across it and its height above the plane.
        edges: bin edges along the row (``len(edges) - 1`` bins).
        standing: per bin, whether something stands on the board there.
        seen: per bin, whether the camera saw any point there.
        board_height: the board top above the plane.
    """

    centre_uv: np.ndarray
    axis: np.ndarray
    across: np.ndarray
    s: np.ndarray
    t: np.ndarray
    h: np.ndarray
    edges: np.ndarray
    standing: np.ndarray
    seen: np.ndarray
    board_height: float

    def runs(self, standing: bool) -> list[tuple[int, int]]:
        """[first, end) bin ranges where ``self.standing`` equals ``standing``."""
        flags = np.r_[False, self.standing == standing, False].astype(np.int8)
        change = np.flatnonzero(np.diff(flags))
        return list(zip(change[::2].tolist(), change[1::2].tolist()))


def row_profile(
    shelf: SceneObject, plane: Plane, config: ShelfConfig = ShelfConfig(), yaw: float | None = None
) -> RowProfile:
    """Bin ``shelf``'s points along the row: ``yaw`` in the plane frame (default: the footprint's long side).

    Raises:
        GroundingError: the shelf shows no board (segmentation found no floor between its uprights).
    """
    if shelf.floor_height is None:
        raise GroundingError(
            f"the {shelf.description} shows no board between its uprights, so it has no row to stand the "
            "object in"
        )
    uvh = plane.to_plane_coords(shelf.points_world)
    yaw = shelf.yaw if yaw is None else yaw
    axis = np.array([np.cos(yaw), np.sin(yaw)])
    across = np.array([-axis[1], axis[0]])
    centre = plane.to_plane_coords(np.asarray([shelf.centre_world]))[0, :2]
    s = (uvh[:, :2] - centre) @ axis
    board = float(shelf.floor_height)
    lo, hi = float(np.percentile(s, 1)), float(np.percentile(s, 99))
    edges = np.arange(lo, hi + config.bin_m, config.bin_m)
    which = np.clip(np.digitize(s, edges) - 1, 0, len(edges) - 2)
    count = len(edges) - 1
    return RowProfile(
        centre_uv=centre,
        axis=axis,
        across=across,
        s=s,
        t=(uvh[:, :2] - centre) @ across,
        h=uvh[:, 2],
        edges=edges,
        standing=np.bincount(which, weights=uvh[:, 2] > board + config.standing_m, minlength=count) > 0,
        seen=np.bincount(which, minlength=count) > 0,
        board_height=board,
    )


def find_slot(
    shelf: SceneObject, plane: Plane, thickness: float, config: ShelfConfig = ShelfConfig()
) -> Slot:
    """The widest free gap in ``shelf``'s row that an object ``thickness`` thick fits in, a gap seen into before
    one that was not: along the footprint's long side, or, for a nearly square footprint, along its short
    side when it has the better kind of gap.

    Raises:
        GroundingError: the shelf has no board under its row, or no gap is wide enough along the sides tried.
    """
    need = thickness + config.clearance_m
    long_side, short_side = sorted(shelf.extents[:2], reverse=True)
    square = short_side >= config.square_ratio * long_side
    sides = []  # per side tried: (yaw, profile, fitting gaps, those seen into, widest gap)
    for yaw in (shelf.yaw, shelf.yaw + np.pi / 2) if square else (shelf.yaw,):
        profile = row_profile(shelf, plane, config, yaw=yaw)
        count = len(profile.standing)
        gaps = [
            (first, end, (end - first) * config.bin_m, float(np.mean(profile.seen[first:end])))
            for first, end in profile.runs(standing=False)
            if first > 0 and end < count  # closed by something standing on both sides
        ]
        fitting = [g for g in gaps if g[2] >= need]
        seen = [g for g in fitting if g[3] >= config.min_free_fraction]
        sides.append((yaw, profile, fitting, seen, max((g[2] for g in gaps), default=0.0)))
    chosen = next((side for side in sides if side[3]), None) or next(
        (side for side in sides if side[2]), None
    )
    if chosen is None:
        widest = max(side[4] for side in sides)
        raise GroundingError(
            f"the {shelf.description} has no free gap wide enough for an object {1000 * thickness:.0f} mm "
            f"thick (needs {1000 * need:.0f} mm; widest gap seen {1000 * widest:.0f} mm)"
        )
    yaw, profile, fitting, seen, _ = chosen
    first, end, width, _ = max(seen or fitting, key=lambda g: g[2])
    edges = profile.edges
    mid = 0.5 * (edges[first] + edges[end])
    centre_uv = profile.centre_uv + mid * profile.axis
    return Slot(
        centre_uv=(float(centre_uv[0]), float(centre_uv[1])),
        row_yaw=float(yaw),
        width=float(width),
        depth=float(np.percentile(profile.t, 99) - np.percentile(profile.t, 1)),
        board_height=profile.board_height,
    )
