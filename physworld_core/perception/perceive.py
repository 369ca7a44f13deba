"""The whole perception pass in one call: table, objects, instruction, grounding, and the skill's view.

The video generator, the reconstruction stage, the twin and the fidelity check all start from the same reading
of the scene; doing it in one function keeps them from drifting apart (different margins, different
grounding), and the perception stage stores its result once per task (:mod:`.stage`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from physworld_core.errors import GroundingError, SceneError
from physworld_core.perception.alignment import (
    MAX_TILT_DEG,
    aligned_scene,
    needs_alignment,
    tilt_from_vertical_deg,
)
from physworld_core.perception.grounding import Grounding, ground
from physworld_core.perception.language import Instruction, parse_instruction
from physworld_core.perception.plane import Plane, fit_support_plane
from physworld_core.perception.regions import segment_regions
from physworld_core.perception.segment import SceneObject, depth_hole_report, segment_objects
from physworld_core.perception.skill import SkillPerception, perception_of
from physworld_core.robot import PANDA, RobotSetup
from physworld_core.scene import CameraSpec, ScenePackage

REGION = "region"
"""The goal shape of a flat marking on the table, looked for only when the prompt names one."""


@dataclass(frozen=True, eq=False)
class Perception:
    """What one RGB-D frame and its prompt say about the task.

    Args:
        plane: the fitted support plane.
        objects: objects standing on it (see :func:`segment_objects`).
        instruction: the parsed prompt.
        grounding: which objects the prompt means.
        view: what the instruction's skill measures beyond these (:meth:`SkillPerception.view`: a shelf's free
            gap, a lying object's axis, a cup and its contents, a brush, a dustpan and the scraps), of the
            skill's own type; ``None`` when it measures nothing.
        depth_holes: depth holes that did not refuse the scene because they hide neither the target nor the
            goal (objects over the limit of missing depth, unmeasured spots on the table), one line each;
            each object's own share is its ``missing_depth_fraction``.
    """

    plane: Plane
    objects: tuple[SceneObject, ...]
    instruction: Instruction
    grounding: Grounding
    view: Any = None
    depth_holes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "objects", tuple(self.objects))
        object.__setattr__(self, "depth_holes", tuple(self.depth_holes))
        indices = [o.index for o in self.objects]
        if indices != list(range(len(indices))):
            raise ValueError(f"Perception.objects must be indexed 0..n-1 in order, got {indices}")
        if (self.grounding.goal is not None) != self.instruction.has_goal_object:
            raise ValueError(
                "Perception: the grounding has a goal object exactly when the instruction names one (not the "
                "table the object lies on)"
            )
        self.skill.check_view(self.view)

    @property
    def skill(self) -> SkillPerception:
        """The perception hooks of the instruction's skill."""
        return perception_of(self.instruction.skill)

    @property
    def target(self) -> SceneObject:
        return self.grounding.target

    @property
    def goal(self) -> SceneObject | None:
        """The goal object; ``None`` when the goal is the table under the target (a fallen object stood up)."""
        return self.grounding.goal

    def to_dict(self) -> dict:
        return {
            "plane": self.plane.to_dict(),
            "objects": [o.to_dict() for o in self.objects],
            "instruction": self.instruction.to_dict(),
            "grounding": self.grounding.to_dict(),
            "view": None if self.view is None else self.view.to_dict(),
            "depth_holes": list(self.depth_holes),
        }


def perceive(
    scene: ScenePackage, robot: RobotSetup | None = PANDA, split_touching: bool = True
) -> Perception:
    """Fit the table, segment the objects (and the flat markings, when the goal is one), parse the prompt,
    ground it and take the skill's view.

    The prompt is parsed first: a malformed prompt is the cheapest error to report. ``robot``'s workspace box
    crops what is segmented (a calibrated capture's own box: :meth:`.calibration.Calibration.robot`);
    ``split_touching`` chooses how touching objects are parted (:func:`segment_objects`).

    Depth holes refuse the scene only where the task needs depth: over the target or the goal, or, when the
    prompt names an object the scene does not show, anywhere on the table an object could hide. Elsewhere
    (real sensors always leave holes at depth edges and on dark or shiny surfaces) they are reported
    (:attr:`Perception.depth_holes`, each object's ``missing_depth_fraction``).

    Raises:
        GroundingError: the prompt cannot be read or does not match the objects, or the skill cannot work in
            this scene (its view says why: a shelf with no gap the object fits in, an object to stand upright
            that does not lie on its side, a vessel to pour from that is not an open container the hand can
            hold, a brush with no head and handle or nothing to sweep in front of the dustpan).
        SceneError: no table plane can be found in the depth, the target or goal lacks depth over too much
            of it, or an object the prompt names is missing where the table has an object-sized depth hole.
    """
    instruction = parse_instruction(scene.prompt)
    skill = perception_of(instruction.skill)
    plane = fit_support_plane(scene)
    objects = segment_objects(
        scene, plane, robot=robot, refuse_depth_holes=False, split_touching=split_touching
    )
    objects = skill.prepare_objects(scene, plane, objects, instruction)
    if instruction.goal_shape == REGION:  # flat markings are looked for only when the prompt names one
        objects += segment_regions(scene, plane, objects, first_index=len(objects))
    holes = depth_hole_report(scene, plane, objects, robot=robot)
    try:
        grounding = ground(instruction, objects)
    except GroundingError:
        if holes.table_errors:  # the named object may stand in the hole: say so rather than "not there"
            raise SceneError(holes.table_errors[0]) from None
        raise
    needed = {grounding.target.index} | ({grounding.goal.index} if grounding.goal is not None else set())
    for index in sorted(needed & set(holes.object_errors)):
        raise SceneError(holes.object_errors[index])
    view = skill.view(scene, plane, objects, instruction, grounding)
    reported = tuple(message for index, message in sorted(holes.object_errors.items()) if index not in needed)
    return Perception(
        plane=plane,
        objects=tuple(objects),
        instruction=instruction,
        grounding=grounding,
        view=view,
        depth_holes=holes.table_errors + reported,
    )


@dataclass(frozen=True, eq=False)
class TaskPerception:
    """A task's perception, as the perception stage stores it.

    Args:
        perception: the scene as captured, perceived.
        levelled: the scene re-expressed with its table level, perceived (reconstruction models in that
            frame), when the table is tilted by more than plane-fit noise; else ``None``.
        tilt_deg: how far the fitted table is from level.
    """

    perception: Perception
    levelled: Perception | None
    tilt_deg: float


def workspace_robot(camera: CameraSpec, robot: RobotSetup = PANDA) -> RobotSetup:
    """``robot`` with the workspace box of a calibrated camera (``physworld calibrate``), else as it is: what
    segmentation crops to."""
    if camera.workspace is None:
        return robot
    return replace(robot, workspace_min=camera.workspace[0], workspace_max=camera.workspace[1])


def perceive_task(scene: ScenePackage) -> TaskPerception:
    """The scene perceived, and again levelled when its table is tilted (a table tilted past a slope is left
    for reconstruction to refuse, as it always has)."""
    robot = workspace_robot(scene.camera)
    perception = perceive(scene, robot)
    tilt = tilt_from_vertical_deg(perception.plane.normal)
    levelled = None
    if needs_alignment(tilt) and tilt <= MAX_TILT_DEG:
        levelled = perceive(aligned_scene(scene, perception.plane.normal), robot)
    return TaskPerception(perception, levelled, tilt)
