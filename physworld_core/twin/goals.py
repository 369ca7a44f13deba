"""Goal kinds: how a twin tests that its task is done, one class per kind.

A :class:`~physworld_core.twin.spec.GoalRegion` names its kind; the kind says what the goal carries besides
its region (``details``), where the object must be for the goal to hold and how it is scored in a twin. The
generic kinds are here: "volume" (inside a container, below its rim), "surface" (resting on the table on a flat
marking) and "top" (resting on top of another body: a block to stack on, a pot's rim under a lid). A skill
defines its own in its ``twin.py`` (:attr:`~physworld_core.twin.skill.SkillTwin.defines`): a shelf's slot, a
bottle standing, contents poured or swept in.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from physworld_core.errors import TwinError
from physworld_core.skills.registry import all_layer_hooks, layer_hooks

if TYPE_CHECKING:  # types only: the spec imports this module
    from physworld_core.twin.spec import GoalRegion

SURFACE_REST_TOLERANCE_M = 0.005
"""On a surface goal the object's lowest point must be within this of the table: pushed, not held above."""
TOP_REST_TOLERANCE_M = 0.008
"""On a "top" goal the object's lowest point must be within this of the top: resting on it, not held above it
and not sunk past it (a lid that fell into the pot, a block that slid off the edge)."""
BASE_BAND_M = 0.005
"""Points within this of an object's lowest point are what it stands on (see :func:`resting_base_centre`)."""
UP = (0.0, 0.0, 1.0)


def resting_base_centre(points: np.ndarray) -> np.ndarray:
    """Middle (x, y) of what an upright object stands on, at its lowest height: of its points within
    :data:`BASE_BAND_M` of the lowest.

    On a "top" goal it is this that must land over the support: a pan rests on its body, while the middle of
    its bounding box lies under its raised handle, 4-6 cm aside; for a box, a can or a lid the two agree."""
    pts = np.asarray(points, dtype=np.float64)
    base = pts[pts[:, 2] <= pts[:, 2].min() + BASE_BAND_M]
    return np.array([*(0.5 * (base[:, :2].min(0) + base[:, :2].max(0))), pts[:, 2].min()])


class GoalKind:
    """How goals of one kind are tested.

    Attributes:
        name: the kind's name, as stored in a twin spec.
        details_type: the frozen type of what a goal of this kind carries besides its region (``None``:
            nothing); its fields are stored beside the region's in the spec's JSON.
        contents_fraction: for a kind scored on the contents (what the target moves into the goal, not the
            target itself: :class:`ScoredOnContents`), the share of them that must end in the goal; ``None``:
            scored on the target.
        excludes_target: the target itself must not end in the goal (a cup poured, not dropped in).
        rests_on: the goal is the top of a body, which may move and take the goal with it (``on``).
    """

    name: ClassVar[str]
    details_type: ClassVar[type | None] = None
    contents_fraction: ClassVar[float | None] = None
    excludes_target: ClassVar[bool] = False
    rests_on: ClassVar[bool] = False

    def check(self, goal: GoalRegion) -> None:
        """Raise :class:`TwinError` if ``goal`` is not a goal of this kind."""
        if self.details_type is None and goal.details is not None:
            raise TwinError(f"a {self.name!r} goal carries no details, got {goal.details!r}")
        if self.details_type is not None and not isinstance(goal.details, self.details_type):
            raise TwinError(
                f"a {self.name!r} goal needs its {self.details_type.__name__}, got {goal.details!r}"
            )

    def contains(self, goal: GoalRegion, p: np.ndarray, margin: float, d: np.ndarray) -> bool:
        """``p``: (x, y) of the object's centre and z of its lowest point; ``d``: how far the body the goal
        rests on has moved. Inside the region's footprint (less ``margin``) and below its top."""
        return bool(in_footprint(goal, p, margin, d) and p[2] < goal.top_z)

    def test_point(self, world) -> np.ndarray:
        """The object's point whose (x, y) must land in the goal: its centre (``world``: a twin env)."""
        return world.target_pose_world()[:3]

    def up_local(self, goal: GoalRegion) -> tuple[float, float, float]:
        """The object's own axis (its frame) that ``max_tilt_deg`` measures from vertical: as it stood."""
        return UP

    def score(self, world, goal: GoalRegion) -> tuple[bool, Any, bool]:
        """(success, how much is inside, whether the target is held) in a twin (``world``: a
        :class:`~physworld_core.twin.env.TwinEnv`). By default: the object's test point in the goal, its lowest
        point below the goal's top (:meth:`contains`), standing within ``max_tilt_deg`` when the goal says so,
        and let go."""
        centre = self.test_point(world)  # a pan put on a top: what it stands on, not its handle's side
        p = np.array([centre[0], centre[1], world.target_bottom_z()])
        inside = goal.contains(p, shift=world.goal_shift(goal))
        if goal.max_tilt_deg is not None:
            inside = inside and world.target_tilt_deg(self.up_local(goal)) < goal.max_tilt_deg
        grasped = world.grasping()
        return inside and not grasped, inside, grasped

    def details_from_dict(self, d: dict) -> Any:
        """The goal's details from its stored fields (``d``: the goal's dict, whatever else it holds)."""
        return None

    def details_to_dict(self, details: Any) -> dict:
        """The goal's details as fields stored beside its region's."""
        return {}


class ScoredOnContents(GoalKind):
    """A kind scored on what the target moves into the goal (the spec's objects of role "contents"), at least
    :attr:`contents_fraction` of them; where :attr:`excludes_target`, the target itself must not be in it (a cup
    poured, not dropped in with them), else it may be anywhere. Whether the target is still held does not
    matter: the task is done once the contents are in."""

    contents_fraction: ClassVar[float]

    def score(self, world, goal: GoalRegion) -> tuple[bool, Any, bool]:
        inside = world.contents_inside()
        needed = int(np.ceil(self.contents_fraction * len(inside) - 1e-9))
        centre = world.target_pose_world()[:3]
        target_in = self.excludes_target and goal.contains(
            np.array([centre[0], centre[1], world.target_bottom_z()]), margin=0.0
        )
        return int(inside.sum()) >= needed and not target_in, int(inside.sum()), world.grasping()


def in_footprint(goal: GoalRegion, p: np.ndarray, margin: float, d: np.ndarray) -> bool:
    """Whether (x, y) of ``p`` lies in the goal's footprint less ``margin``, the goal moved by ``d``."""
    c, s = np.cos(-goal.yaw), np.sin(-goal.yaw)
    dx, dy = p[0] - goal.center[0] - d[0], p[1] - goal.center[1] - d[1]
    if goal.shape == "disc":
        return bool(np.hypot(dx, dy) <= goal.half_extents[0] - margin)
    local = np.array([c * dx - s * dy, s * dx + c * dy])
    return bool(np.all(np.abs(local) <= np.asarray(goal.half_extents) - margin))


class Volume(GoalKind):
    """Inside a container, below its rim."""

    name = "volume"


class Surface(GoalKind):
    """Resting on the table on a flat marking (``top_z``: the table plus :data:`SURFACE_REST_TOLERANCE_M`); the
    twin draws the marking."""

    name = "surface"


class Top(GoalKind):
    """Resting on top of another body (a block to stack on, a pot's rim under a lid): the object's lowest point
    within :data:`TOP_REST_TOLERANCE_M` of ``top_z``, and what it stands on (:func:`resting_base_centre`) over
    the region. On a movable body (``on``) the region moves with it."""

    name = "top"
    rests_on = True

    def contains(self, goal: GoalRegion, p: np.ndarray, margin: float, d: np.ndarray) -> bool:
        return bool(
            in_footprint(goal, p, margin, d) and abs(p[2] - goal.top_z - d[2]) <= TOP_REST_TOLERANCE_M
        )

    def test_point(self, world) -> np.ndarray:
        return resting_base_centre(world.target_points_world())


GENERIC_KINDS: tuple[type[GoalKind], ...] = (Volume, Surface, Top)


class SkillGoals:
    """What a skill's twin hooks say about goals (the part of :class:`~physworld_core.twin.skill.SkillTwin` the
    spec checks against).

    Attributes:
        defines: the goal kinds the skill defines (classes).
        goal_kinds: the kinds of goal the skill's twins may have (its own, or generic ones: by default the
            generic ones).
        has_contents: the skill's twins hold what the target moves into the goal (role "contents": a cup's
            balls, the scraps to sweep), and only its do.
    """

    name: str = ""
    defines: ClassVar[tuple[type[GoalKind], ...]] = ()
    goal_kinds: ClassVar[tuple[str, ...]] = tuple(kind.name for kind in GENERIC_KINDS)
    has_contents: ClassVar[bool] = False


def goals_of(skill: str) -> SkillGoals:
    """What ``skill``'s twin hooks say about goals."""
    return layer_hooks(skill, "twin", SkillGoals)


@cache
def goal_kinds() -> dict[str, GoalKind]:
    """Every goal kind by name: the generic ones and those the skills define."""
    kinds = {kind.name: kind() for kind in GENERIC_KINDS}
    for hooks in all_layer_hooks("twin", SkillGoals):
        for kind in hooks.defines:
            if kind.name in kinds:
                raise ValueError(f"goal kind {kind.name!r} defined twice (skill {hooks.name!r})")
            kinds[kind.name] = kind()
    return kinds


def goal_kind(name: str) -> GoalKind:
    """The goal kind ``name``.

    Raises:
        TwinError: no such kind.
    """
    kinds = goal_kinds()
    if name not in kinds:
        raise TwinError(f"goal kind must be one of {tuple(kinds)}, got {name!r}")
    return kinds[name]
