"""What a skill brings to reconstruction: how it models the target and the goal, how the tracker follows the
target's turn, what it models besides (a cup's contents, the scraps to sweep) and what it checks of the video.

``physworld_core/skills/<skill>/reconstruction.py`` sets ``HOOKS`` to an instance of a
:class:`SkillReconstruction` subclass; a skill without one gets the base class: the completed mesh of every
object, an open box (or a solid support) as the goal, a tracker turning about the vertical, nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import numpy as np

from physworld_core.perception.perceive import Perception
from physworld_core.perception.segment import SceneObject
from physworld_core.reconstruction.geometry import container_model
from physworld_core.reconstruction.tracking import TrackingConfig
from physworld_core.reconstruction.types import (
    ContainerGeometry,
    Fixture,
    ReconstructedObject,
    Trajectory,
)
from physworld_core.skills.registry import all_layer_hooks, layer_hooks

CONTAINER = "container"
"""The shape of a hollow goal (an open box the target goes in), see ``perception.segment``."""
ON = "on"


@dataclass(frozen=True, eq=False)
class TargetModel:
    """The target's mesh in its object frame, and how it was made.

    Args:
        vertices, faces: the mesh (object frame).
        pose: 4×4 object-to-world transform at the first frame.
        face_part: the convex part each face belongs to, or ``None`` (see ``ReconstructedObject``).
        arm_parts: which parts are arms (a pan's handle).
        half_turn: the unseen side is the seen half turned about a vertical line (views may correct it).
        source: what made it, for the metrics ("half turn", "open cup", "mesh file"...).
    """

    vertices: np.ndarray
    faces: np.ndarray
    pose: np.ndarray
    face_part: np.ndarray | None
    arm_parts: tuple[int, ...]
    half_turn: bool
    source: str


Fixture3D = tuple[Fixture, np.ndarray, np.ndarray, np.ndarray]
"""(fixture geometry, vertices, faces, pose) of a goal modelled as a fixture."""


class SkillReconstruction:
    """The reconstruction hooks of one skill.

    Attributes:
        fixture_types: the fixture geometries the skill's goals are modelled as (kind → class), so a stored
            reconstruction reads them back (:func:`fixture_from_dict`).
    """

    name: str = ""
    fixture_types: ClassVar[dict[str, type[Fixture]]] = {}

    def models_apart(self, seen: SceneObject, perception: Perception) -> bool:
        """Whether a segmented object is modelled with what the skill models besides (:meth:`finish`), not as
        an obstacle of its own."""
        return False

    def goal_fixture(
        self, goal: SceneObject, perception: Perception, table_height: float
    ) -> Fixture3D | None:
        """The goal as a fixture: an open box when the target goes in it; ``None`` for a solid to put the
        target on ("on the blue block": the prompt says "on" and the goal is not hollow). "On the tray" and "on
        the pot" keep their walls: whether the object then rests inside or on the rim is the twin's call."""
        if perception.instruction.relation == ON and goal.shape != CONTAINER:
            return None
        length, width, _height = goal.extents
        return container_model(
            goal.points_world,
            np.asarray(goal.centre_world),
            length,
            width,
            world_yaw(perception, goal.yaw),
            goal.top_height,
            table_height,
        )

    def target_model(
        self,
        seen: SceneObject,
        perception: Perception,
        table_height: float,
        complete: Callable[[], TargetModel],
    ) -> TargetModel:
        """The target's mesh. ``complete()`` is the generic one (the completion backend's: the seen half turned,
        or an image-to-3D mesh), made only when asked for."""
        return complete()

    def tracking(self, perception: Perception, tracking: TrackingConfig) -> TrackingConfig:
        """The tracker's settings for this task, given the ones that fit the turn about the vertical only."""
        return tracking

    def finish(
        self, target: ReconstructedObject, trajectory: Trajectory, perception: Perception, table_height: float
    ) -> tuple[list[ReconstructedObject], dict]:
        """(what the skill models besides the objects, its metrics): a cup's contents, the scraps to sweep, a
        fallen object's base-to-top axis.

        Raises:
            ReconstructionError: the tracked video does not show the skill done (a pour that does not tip the
                cup), so the twin's goal would contradict it."""
        return [], {}


def world_yaw(perception: Perception, yaw_plane: float) -> float:
    """A yaw measured in the support plane's frame, as a yaw about the world's vertical."""
    e1, e2, _ = perception.plane.basis()
    axis = np.cos(yaw_plane) * e1 + np.sin(yaw_plane) * e2
    return float(np.arctan2(axis[1], axis[0]))


def reconstruction_of(skill: str) -> SkillReconstruction:
    """The reconstruction hooks of ``skill``."""
    return layer_hooks(skill, "reconstruction", SkillReconstruction)


@cache
def _fixture_types() -> dict[str, type[Fixture]]:
    types: dict[str, type[Fixture]] = {ContainerGeometry.kind: ContainerGeometry}
    for hooks in all_layer_hooks("reconstruction", SkillReconstruction):
        types.update(hooks.fixture_types)
    return types


def fixture_from_dict(d: dict) -> Fixture:
    """Inverse of ``to_dict`` of any fixture, generic or a skill's (a dict without "kind" is a box container, as
    first stored).

    Raises:
        ValueError: no skill models a fixture of that kind.
    """
    kind = d.get("kind", ContainerGeometry.kind)
    types = _fixture_types()
    if kind not in types:
        raise ValueError(f"no fixture of kind {kind!r}; the skills model {', '.join(sorted(types))}")
    return types[kind].from_dict(d)
