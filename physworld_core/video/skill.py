"""What a skill brings to the video stage: how the procedural backend moves the object and renders it, and how
any backend's video is checked to show the skill done.

``physworld_core/skills/<skill>/video.py`` sets ``HOOKS`` to an instance of a :class:`SkillVideo` subclass; a
skill without one gets the base class: the generic carry (lift, carry, lower; or slide onto a flat marking),
the mirrored back side, and the check that the object ends over the goal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from physworld_core.perception.perceive import Perception
from physworld_core.perception.segment import SceneObject
from physworld_core.scene import ScenePackage
from physworld_core.skills.registry import layer_hooks
from physworld_core.video.config import ProceduralVideoConfig
from physworld_core.video.motion import ContentsMotion, ObjectTrajectory, carry_trajectory
from physworld_core.video.surfaces import mirrored_back

REGION = "region"
"""The shape of a flat marking on the table: an object put on one slides there, as pushed."""


@dataclass(frozen=True, eq=False)
class ContentsParts:
    """What the renderer draws apart from the target's body (:meth:`SkillVideo.split_contents`).

    Args:
        target: the target, less any pixels that move on their own.
        contents_points, contents_colours: M×3 points (world) and their uint8 colours of what moves apart.
        contents_labels: M ints, the part (clump, scrap) each point is of: each moves by its own transform
            (:class:`~physworld_core.video.motion.ContentsMotion`).
        extra_hole: H×W bool, image pixels the background fills besides the target's (where the parts lay).
    """

    target: SceneObject
    contents_points: np.ndarray
    contents_colours: np.ndarray
    contents_labels: np.ndarray
    extra_hole: np.ndarray

    @classmethod
    def none(cls, target: SceneObject) -> ContentsParts:
        """The target whole, and nothing apart from it."""
        return cls(
            target,
            np.empty((0, 3)),
            np.empty((0, 3), dtype=np.uint8),
            np.empty(0, dtype=np.int64),
            np.zeros(target.mask.shape, dtype=bool),
        )


@dataclass(frozen=True, eq=False)
class ColourTrack:
    """What the video check's colour tracker found, for a skill's test of how the video ends.

    Args:
        frames: T×H×W×3 uint8 video; scene, perception: what it was generated from; config: the thresholds
            (a :class:`~physworld_core.video.checks.VideoCheckConfig`) and skill_config, the skill's own.
        moving: T×H×W, per frame the target's pixels that moved (:meth:`SkillVideo.blobs`).
        matches: T×H×W, per frame the pixels of the target's colour.
        visible: T bool, the frames in which the target is seen.
        own: H×W, the target's own pixels in the input (:meth:`SkillVideo.own_pixels`).
        mean: the target's mean colour (0-255).
        extra: what the skill's :meth:`SkillVideo.blobs` found besides (a silhouette).
    """

    frames: np.ndarray
    scene: ScenePackage
    perception: Perception
    config: Any
    skill_config: Any
    moving: np.ndarray
    matches: np.ndarray
    visible: np.ndarray
    own: np.ndarray
    mean: np.ndarray
    extra: Any


class SkillVideo:
    """The video hooks of one skill.

    Attributes:
        check_config_type: the frozen config of the skill's own check thresholds (``None``: it has none); a
            :class:`~physworld_core.video.checks.VideoCheckConfig` may carry one as ``skill``.
    """

    name: str = ""
    check_config_type: ClassVar[type | None] = None

    # --- motion (the procedural backend) -------------------------------------------------------------------
    def plan_motion(
        self, perception: Perception, config: ProceduralVideoConfig, through_obstacle: bool = False
    ) -> ObjectTrajectory:
        """The target's motion in the video (see :func:`~physworld_core.video.motion.carry_trajectory`)."""
        return carry_trajectory(perception, config, self, through_obstacle)

    def goal_point(self, perception: Perception) -> np.ndarray:
        """Where the object's footprint centre goes (world): the goal's centre."""
        return np.asarray(perception.goal.centre_world, dtype=np.float64)

    def slides(self, perception: Perception) -> bool:
        """Whether the carry slides the object along the table (onto a flat marking) instead of lifting it."""
        return perception.goal.shape == REGION

    def landing(self, perception: Perception, final_height: float, final_yaw: float) -> tuple[float, float]:
        """How high the carried object's bottom ends above the table and how far it has turned (its drawn
        jitter), given the carry's own choice."""
        return final_height, final_yaw

    def contents_motion(
        self, perception: Perception, trajectory: ObjectTrajectory, config: ProceduralVideoConfig
    ) -> ContentsMotion | None:
        """How what is drawn apart from the target (:meth:`split_contents`) moves; ``None``: nothing is."""
        return None

    def plan_fields(self, perception: Perception, trajectory: ObjectTrajectory) -> dict:
        """What the video's ``plan`` records of the skill (JSON-ready), besides the generic fields."""
        return {}

    # --- rendering ------------------------------------------------------------------------------------------
    def split_contents(
        self, scene: ScenePackage, perception: Perception, target: SceneObject
    ) -> ContentsParts:
        """What of the scene moves apart from the target's body (see :class:`ContentsParts`)."""
        return ContentsParts.none(target)

    def add_unseen(
        self,
        scene: ScenePackage,
        perception: Perception,
        target: SceneObject,
        points: np.ndarray,
        colours: np.ndarray,
        config: ProceduralVideoConfig,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The target's surface with what one view does not see of it added: with ``config.mirror_back``, the
        seen side mirrored about the object's vertical axis (:func:`~physworld_core.video.surfaces.
        mirrored_back`)."""
        if not config.mirror_back:
            return points, colours
        camera = scene.camera
        cam_to_world = camera.extrinsic
        camera_position = cam_to_world[:3, 3]
        target_depth = float(np.median((target.points_world - camera_position) @ cam_to_world[:3, 2]))
        back_points, back_colours = mirrored_back(
            points,
            colours,
            scene.rgb,
            target,
            perception,
            camera_position,
            target_depth / min(camera.fx, camera.fy),
        )
        return np.concatenate([points, back_points]), np.concatenate([colours, back_colours])

    # --- checks (any backend) -------------------------------------------------------------------------------
    def skill_config(self, check_config: Any) -> Any:
        """The skill's own check thresholds: ``check_config.skill`` if given, else the defaults."""
        given = getattr(check_config, "skill", None)
        if given is not None:
            if self.check_config_type is None or not isinstance(given, self.check_config_type):
                raise ValueError(f"a {self.name!r} video is checked with no {type(given).__name__}")
            return given
        return None if self.check_config_type is None else self.check_config_type()

    def own_pixels(self, perception: Perception) -> np.ndarray:
        """H×W: the input pixels whose colour the target is followed by."""
        return perception.target.mask.copy()

    def blobs(
        self, frames: np.ndarray, scene: ScenePackage, perception: Perception, moving: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        """T×H×W: the target's pixels in each frame (``moving``: those of its colour that moved), and anything
        the skill's end test needs besides."""
        return moving, None

    def not_done(self) -> dict:
        """The skill's check figures of a video in which the target is never seen (all failed)."""
        return {}

    def ends_in_goal(self, track: ColourTrack) -> tuple[dict, bool]:
        """(the skill's check figures, whether the video ends with the task done), for a video in which the
        target is seen. The generic test: the bottom-centre of its final blob lies in the goal's image box.

        Where the target rests is the bottom of its blob (a can in a bin sticks out above the rim; one put on a
        box stands above the box's image region). Only pixels that did not already match in the first frame
        count: on a table of the object's own colour (an orange shoe on wood) the table it uncovered along the
        way would drag the blob back along the path. Nor do pixels of its own first-frame mask: what shows
        there at the end is the table the video filled in where it stood (a book's off-white page edge, filled
        with wood, matches an orange cover)."""
        perception, config, frames = track.perception, track.config, track.frames
        target, goal = perception.target, perception.goal
        rows, cols = np.mgrid[0 : frames.shape[1], 0 : frames.shape[2]]
        goal_rows, goal_cols = np.nonzero(goal.mask)
        top, bottom = goal_rows.min(), goal_rows.max() + 1
        left, right = goal_cols.min(), goal_cols.max() + 1
        pad_rows, pad_cols = config.goal_margin * (bottom - top), config.goal_margin * (right - left)
        last = np.nonzero(track.visible)[0][-1]
        last_blob = track.moving[last] & ~track.matches[0] & ~target.mask
        if last_blob.sum() < config.min_target_pixels:
            last_blob = track.moving[last]  # it ends about where it began
        final_row, final_col = float(np.percentile(rows[last_blob], 95)), float(cols[last_blob].mean())
        ends = bool(
            top - pad_rows <= final_row <= bottom + pad_rows
            and left - pad_cols <= final_col <= right + pad_cols
        )
        return {}, ends

    def moves_in_place(self, figures: dict, skill_config: Any) -> bool:
        """Whether the skill's figures show the target moving though its blob does not travel (a bottle stood
        up where it lay changes its silhouette)."""
        return False


def video_of(skill: str) -> SkillVideo:
    """The video hooks of ``skill``."""
    return layer_hooks(skill, "video", SkillVideo)
