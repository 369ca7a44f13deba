"""The default offline image-to-video backend: move the grounded object in 3D and re-render the RGB-D frame.

Why this exists: the pipeline needs a task video on a CPU with no weights. The depth image already says where
every visible surface is, so a plausible video of "put the red can in the bin" is: cut the can's points out,
fill the hole it leaves with table, and replay a lift–carry–lower motion of those points into the bin,
projecting them every frame with a z-buffer so the bin's near wall hides the can as it goes in.

What it is not: physics. Like a learned video model, it shows a goal, not a feasible robot motion; the later
stages reconstruct and re-plan from it. The motion is recorded in ``plan`` only so tracking can be scored.

The pieces: the motion (:mod:`.motion`: a carry, or the task's skill's own, from its ``video.py`` hooks:
a bottle stood up, a cup tipped over a bowl, a brush's stroke), what moves apart from the object (a cup's
contents, swept scraps: the skill's too), and the renderer (:mod:`.splat`).

Realism (:mod:`.realism`, off by default): ``config.realism`` adds the artefacts learned video models show, each
seeded by ``config.seed``. The path may cut through the obstacles and the object may drift in scale or pop out
for a frame (applied here, in the plan and the renderer); a hand, flicker and camera shake are drawn on the
rendered frames afterwards. Frame 0 stays the input image; ``plan["realism"]`` records what was applied.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from physworld_core.perception.perceive import Perception, perceive
from physworld_core.scene import ScenePackage
from physworld_core.video.base import GeneratedVideo, VideoBackend
from physworld_core.video.config import MIN_FRAMES, ProceduralVideoConfig
from physworld_core.video.motion import ObjectTrajectory, min_jerk
from physworld_core.video.realism import (
    RealismConfig,
    RealismSamples,
    apply_gain,
    draw_hand,
    sample_realism,
    samples_to_dict,
    shake_frame,
)
from physworld_core.video.skill import video_of
from physworld_core.video.splat import SplatRenderer

__all__ = [
    "MIN_FRAMES",
    "ObjectTrajectory",
    "ProceduralBackend",
    "ProceduralVideoConfig",
    "SplatRenderer",
    "generate",
    "min_jerk",
    "plan_trajectory",
]


def plan_trajectory(
    perception: Perception, config: ProceduralVideoConfig, through_obstacle: bool = False
) -> ObjectTrajectory:
    """The target's motion in the video, as its skill moves it (:meth:`~physworld_core.video.skill.SkillVideo.
    plan_motion`; the generic carry is :func:`~physworld_core.video.motion.carry_trajectory`)."""
    return video_of(perception.instruction.skill).plan_motion(perception, config, through_obstacle)


def generate(
    scene: ScenePackage, config: ProceduralVideoConfig | None = None, perception: Perception | None = None
) -> GeneratedVideo:
    """Render a video of the scene's prompt being carried out (``perception``: the scene's, when stored
    already; else it is perceived here).

    Raises:
        GroundingError: the prompt cannot be read or matched to the objects in the scene.
        SceneError: the depth has no table plane.
    """
    config = config or ProceduralVideoConfig()
    perception = perception or perceive(scene)
    skill = video_of(perception.instruction.skill)
    artefacts = sample_realism(config.realism, config.seed, config.num_frames, config.hold_frames)
    trajectory = plan_trajectory(perception, config, through_obstacle=artefacts.through_obstacle)
    contents = skill.contents_motion(perception, trajectory, config)
    renderer = SplatRenderer(scene, perception, config)
    frames = np.empty((config.num_frames, scene.height, scene.width, 3), dtype=np.uint8)
    for index, transform in enumerate(trajectory.transforms_world):
        scale = float(artefacts.scale_factors[index])
        contents_transforms = None if contents is None else contents.transforms_world[index]
        if index in artefacts.popped_frames:
            frames[index] = renderer.background_rgb
        elif (
            scale == 1.0
            and np.allclose(transform, np.eye(4))
            and (contents_transforms is None or np.allclose(contents_transforms, np.eye(4)))
        ):
            # Frames where the object has not moved are the input image itself: an I2V model reproduces its
            # conditioning frame, and the reconstruction stage pairs frame 0 with the real depth.
            frames[index] = scene.rgb
        else:
            frames[index] = renderer.render(transform, scale, contents_transforms)
    hand_frames = _add_post_effects(frames, config.realism, artefacts, trajectory, renderer)
    start = np.asarray(perception.target.centre_world)
    goal = perception.goal
    centres = trajectory.transforms_world[:, :3, :3] @ start + trajectory.transforms_world[:, :3, 3]
    plan = {
        "backend": "procedural",
        "prompt": scene.prompt,
        "fps": float(config.fps),
        "num_frames": int(config.num_frames),
        "instruction": perception.instruction.to_dict(),
        "target": perception.target.to_dict(),
        "goal": None if goal is None else goal.to_dict(),
        "target_description": perception.target.description,
        "goal_description": None if goal is None else goal.description,
        "target_centre_world": [float(v) for v in start],
        "goal_centre_world": None if goal is None else [float(v) for v in skill.goal_point(perception)],
        **skill.plan_fields(perception, trajectory),
        "contents_transforms_world": None if contents is None else contents.transforms_world.tolist(),
        "contents_release_frame": None if contents is None else contents.release_frame,
        "contents_landed_frame": None if contents is None else contents.landed_frame,
        "object_transforms_world": trajectory.transforms_world.tolist(),
        "target_centre_path_world": centres.tolist(),
        "phases": trajectory.phases,
        "carry_height_m": trajectory.carry_height,
        "final_height_m": trajectory.final_height,
        "obstacles": [perception.objects[i].description for i in trajectory.obstacles],
        "plane": perception.plane.to_dict(),
        "config": asdict(config),
        "realism": {
            **samples_to_dict(config.realism, artefacts),
            "cut_through": [perception.objects[i].description for i in trajectory.cut_through],
            "hand_frames": hand_frames,
        },
    }
    return GeneratedVideo(frames=frames, fps=config.fps, plan=plan)


def _add_post_effects(
    frames: np.ndarray,
    settings: RealismConfig,
    samples: RealismSamples,
    trajectory: ObjectTrajectory,
    renderer: SplatRenderer,
) -> list[int]:
    """Draw the hand (while the object moves), then flicker, then shake, on every frame but frame 0 (in place).

    Returns the frames the hand was drawn on. The hand follows the planned object even in popped frames: a
    video model that drops the object usually keeps the hand moving.
    """
    phases = trajectory.phases
    carried = range(phases["lift"][0], phases["hold_end"][0] if phases["hold_end"] else len(frames))
    hand_frames = []
    for index in range(1, len(frames)):
        frame = frames[index]
        if settings.hand_occluder > 0 and index in carried:
            box = renderer.image_box(trajectory.transforms_world[index], float(samples.scale_factors[index]))
            if box is not None:
                frame = draw_hand(
                    frame,
                    box,
                    settings.hand_occluder,
                    samples.hand_angle_deg,
                    samples.hand_side,
                    samples.skin_rgb,
                )
                hand_frames.append(index)
        if settings.flicker > 0:
            frame = apply_gain(frame, samples.gains_rgb[index])
        if settings.shake_px > 0 or settings.shake_deg > 0:
            dx, dy, angle_deg = (float(v) for v in samples.shake[index])
            frame = shake_frame(frame, dx, dy, angle_deg)
        frames[index] = frame
    return hand_frames

    def generate_for(self, scene: ScenePackage, perception: Perception) -> GeneratedVideo:
        return generate(scene, self.config, perception)


class ProceduralBackend(VideoBackend):
    """Registry entry for :func:`generate` (name "procedural")."""

    name = "procedural"
    config_class = ProceduralVideoConfig

    def generate(self, scene: ScenePackage) -> GeneratedVideo:
        return generate(scene, self.config)

    def generate_for(self, scene: ScenePackage, perception: Perception) -> GeneratedVideo:
        """The video, from the scene's stored perception (the procedural backend moves what it grounded)."""
        return generate(scene, self.config, perception)
