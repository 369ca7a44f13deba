"""The reconstruction stage's algorithm: RGB-D frame + generated video → object models + target trajectory.

Inputs are only the scene package (one real RGB-D frame, camera, prompt), its perception and the decoded video
frames. The steps, in :func:`reconstruct`'s order, each a function of its own here:

1. :func:`levelled` — the scene re-expressed so its support plane is level (when it is tilted by more than
   plane-fit noise), with its perception.
2. :func:`model_objects` — every object as a mesh in its own frame: the goal as a fixture or a flat marking,
   the target and the others completed (the task's skill may model the target, the goal or some objects its
   own way: :class:`~physworld_core.reconstruction.skill.SkillReconstruction`).
3. :func:`track` — the target's 6-DoF trajectory through the video (the skill may restrict its turn).
4. :func:`_frame_depth` — metric depth of every frame, calibrated to the real one, and the target seen from
   more sides where the depth backend measures moved objects (``views``).
5. :func:`_metrics` and the skill's own ``finish``: what it models besides (a cup's contents, scraps) and
   checks of the video.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from physworld_core.errors import ReconstructionError
from physworld_core.perception.alignment import aligned_scene, needs_alignment, plane_tilt_deg
from physworld_core.perception.perceive import Perception, perceive
from physworld_core.reconstruction.completion import CompletionBackend, CompletionRequest
from physworld_core.reconstruction.completion import load as load_completion
from physworld_core.reconstruction.depth import DepthBackend, MetricDepthConfig, load, metric_depth_video
from physworld_core.reconstruction.geometry import object_mesh, region_model
from physworld_core.reconstruction.skill import (
    SkillReconstruction,
    TargetModel,
    reconstruction_of,
    world_yaw,
)
from physworld_core.reconstruction.tracking import HeightMap, TrackingConfig, track_target
from physworld_core.reconstruction.types import ReconstructedObject, Reconstruction, Trajectory
from physworld_core.reconstruction.views import ViewConfig, ViewReport, Views, gather_views
from physworld_core.scene import ScenePackage, depth_to_points_world

REGION = "region"
"""The shape of a flat marking: drawn on the table, it has no body to model."""
HANDLE = "handle"
"""The part a prompt may say to hold the object by: it must be found as an arm of the target's mesh."""


@dataclass(frozen=True)
class ReconstructionConfig:
    """Args:
    tracking: the target tracker's settings.
    depth: the depth backend for every video frame, a registered name or a built backend (see ``depth``);
        each frame is calibrated to the real depth frame and its fit is reported in the metrics.
    depth_calibration: how frames are calibrated.
    views: how frames where the target has moved add views of it (used when the depth backend measures a
        moved object's shape; see ``views``).
    completion: how each object's unseen part is completed, a registered name or a built backend (see
        ``completion``): "half_turn", or "mesh_files" with an image-to-3D model's meshes.
    """

    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    depth: DepthBackend | str = "geometric"
    depth_calibration: MetricDepthConfig = field(default_factory=MetricDepthConfig)
    views: ViewConfig = field(default_factory=ViewConfig)
    completion: CompletionBackend | str = "half_turn"


def reconstruct(
    scene: ScenePackage,
    frames: np.ndarray,
    fps: float,
    config: ReconstructionConfig = ReconstructionConfig(),
    perception: Perception | None = None,
    levelled_perception: Perception | None = None,
) -> Reconstruction:
    """Object models in a gravity-aligned world frame and the target's trajectory, from the scene and a video
    of its prompt (the steps are listed in the module's docstring).

    Args:
        scene: the scene the video was generated from.
        frames: T×H×W×3 uint8 video, frame 0 being the scene's image.
        fps: the video's frame rate.
        config: how depth, completion, views and tracking are done.
        perception: the scene's perception (the perception stage's; perceived here when not given).
        levelled_perception: the perception of the levelled scene, when the scene's plane is tilted and it
            was perceived already (see :func:`levelled`).

    Raises:
        ReconstructionError: the frames do not match the scene, the plane is tilted past a slope, the target
            cannot be tracked, a part to hold it by is not found, or the tracked video does not show the skill
            done (its own checks).
        GroundingError: the prompt does not match the scene (when perceived here).
    """
    start = time.time()
    if frames.ndim != 4 or frames.shape[1:3] != scene.rgb.shape[:2]:
        raise ReconstructionError(
            f"video frames {frames.shape[1:3]} do not match the scene image {scene.rgb.shape[:2]}"
        )
    scene, perception, tilt = levelled(scene, perception or perceive(scene), levelled_perception)
    skill = reconstruction_of(perception.instruction.skill)
    table_height = float(perception.plane.offset)
    camera_position = scene.camera.extrinsic[:3, 3]
    objects, target_model, completions = model_objects(scene, perception, skill, config, table_height)
    target = next(o for o in objects if o.role == "target")
    if perception.instruction.hold == HANDLE and not target.arm_parts:
        raise ReconstructionError(
            f"the prompt says to hold the {perception.target.description} by its handle, but its reconstruction "
            "has none: no narrow part sticks out of its footprint in the first frame (is the handle hidden "
            "behind the body, or outside the image?)"
        )
    trajectory, tracking_stats = track(scene, frames, fps, perception, skill, config, target_model)
    depth_metrics, views = _frame_depth(
        scene, frames, perception, target, trajectory, config, target_model.half_turn
    )
    if views:
        target, trajectory = _with_views(target, trajectory, perception, camera_position, table_height, views)
        objects = [target if o.role == "target" else o for o in objects]
    metrics = _metrics(perception, tilt, table_height, objects, completions)
    metrics.update(tracking=tracking_stats, depth=depth_metrics, views=views.report.to_dict())
    metrics = _ordered_metrics(metrics, time.time() - start)
    contents, skill_metrics = skill.finish(target, trajectory, perception, table_height)
    metrics.update(skill_metrics)
    return Reconstruction(
        task_id=scene.task_id,
        plane_normal=(0.0, 0.0, 1.0),
        plane_offset=table_height,
        objects=tuple(objects) + tuple(contents),
        trajectory=trajectory,
        metrics=metrics,
    )


def levelled(
    scene: ScenePackage, perception: Perception, levelled_perception: Perception | None = None
) -> tuple[ScenePackage, Perception, float]:
    """(the scene, its perception, the plane's tilt in degrees), re-expressed in the gravity-aligned frame when
    the support plane is tilted by more than plane-fit noise (the pixels stay; the camera turns). The levelled
    scene is perceived again unless ``levelled_perception`` is given.

    Raises:
        ReconstructionError: the plane is tilted past a slope (bad extrinsics).
    """
    tilt = plane_tilt_deg(perception.plane.normal)
    if not needs_alignment(tilt):
        return scene, perception, tilt
    scene = aligned_scene(scene, perception.plane.normal)
    return scene, levelled_perception if levelled_perception is not None else perceive(scene), tilt


def model_objects(
    scene: ScenePackage,
    perception: Perception,
    skill: SkillReconstruction,
    config: ReconstructionConfig,
    table_height: float,
) -> tuple[list[ReconstructedObject], TargetModel, dict[str, str]]:
    """(every object as a mesh, the target's model, what made each mesh): the goal as a flat marking or a
    fixture (:meth:`SkillReconstruction.goal_fixture`; ``None``: a support, meshed like the others), the target
    as the skill makes it (:meth:`SkillReconstruction.target_model`), the others by the completion backend.
    Other markings, and what the skill models apart (scraps), are left out."""
    camera_position = scene.camera.extrinsic[:3, 3]
    completer = (
        load_completion(config.completion) if isinstance(config.completion, str) else config.completion
    )
    objects: list[ReconstructedObject] = []
    completions: dict[str, str] = {}
    target_model = None
    obstacle_index = 0
    for seen in perception.objects:
        rgb = tuple(np.asarray(seen.mean_rgb) / 255.0)
        if seen is perception.goal and seen.shape == REGION:
            geometry, v, f, pose = region_model(
                seen.centre_world,
                seen.extents[:2],
                world_yaw(perception, seen.yaw),
                seen.roundness,
                table_height,
            )
            objects.append(
                ReconstructedObject("goal_region", REGION, seen.description, v, f, pose, rgb, region=geometry)
            )
            continue
        if seen.shape == REGION:
            continue  # another marking on the table: no body, nothing to model
        if skill.models_apart(seen, perception):
            continue  # modelled with what the skill models besides
        fixture = skill.goal_fixture(seen, perception, table_height) if seen is perception.goal else None
        if fixture is not None:
            geometry, v, f, pose = fixture
            objects.append(
                ReconstructedObject("container", "container", seen.description, v, f, pose, rgb, geometry)
            )
            continue
        if seen is perception.target:
            name, role = "target", "target"
        elif seen is perception.goal:
            name, role = "support", "support"
        else:
            name, role = f"obstacle_{obstacle_index}", "obstacle"
            obstacle_index += 1

        def complete(seen=seen, name=name) -> TargetModel:
            completion = completer.complete(
                CompletionRequest(scene.task_id, name, seen.points_world, camera_position, table_height)
            )
            v, f, pose, face_part, arm_parts = completion.mesh
            return TargetModel(v, f, pose, face_part, arm_parts, completion.is_half_turn, completion.source)

        model = (
            skill.target_model(seen, perception, table_height, complete) if role == "target" else complete()
        )
        completions[name] = model.source
        if role == "target":
            target_model = model
        objects.append(
            ReconstructedObject(
                name,
                role,
                seen.description,
                model.vertices,
                model.faces,
                model.pose,
                rgb,
                face_part=model.face_part,
                arm_parts=model.arm_parts,
            )
        )
    return objects, target_model, completions


def track(
    scene: ScenePackage,
    frames: np.ndarray,
    fps: float,
    perception: Perception,
    skill: SkillReconstruction,
    config: ReconstructionConfig,
    target_model: TargetModel,
) -> tuple[Trajectory, dict]:
    """The target's trajectory through the video, and the tracker's figures. The tracker fits the turn about the
    vertical unless the skill knows the axis the object turns about (:meth:`SkillReconstruction.tracking`: a
    bottle stood up, a cup tipped); the scene's static part (everything but the target) is what the object may
    not sink into."""
    tracking = config.tracking
    if tracking.rotation == "yaw":
        tracking = skill.tracking(perception, tracking)
    return track_target(
        frames,
        fps,
        scene.camera,
        target_model.vertices,
        target_model.faces,
        target_model.pose,
        perception.target.mask,
        tracking,
        static=_static_scene(scene, perception.target.mask),
    )


def _metrics(
    perception: Perception, tilt: float, table_height: float, objects: list, completions: dict[str, str]
) -> dict:
    """The reconstruction's figures that do not come from the tracker, the depth or the skill."""
    instruction = perception.instruction
    return {
        "plane_rms_m": perception.plane.rms,
        "plane_inlier_fraction": perception.plane.inlier_fraction,
        "tilt_deg": tilt,
        "table_height_m": table_height,
        "num_objects": len(objects),
        "completion": completions,
        "target": perception.target.description,
        "container": "table" if perception.goal is None else perception.goal.description,
        "skill": instruction.skill,
        "relation": instruction.relation,
        "hold": instruction.hold,
        "object_noun": instruction.object_noun,
    }


_METRICS_ORDER = (
    "plane_rms_m",
    "plane_inlier_fraction",
    "tilt_deg",
    "table_height_m",
    "num_objects",
    "tracking",
    "depth",
    "views",
    "completion",
    "seconds",
    "target",
    "container",
    "skill",
    "relation",
    "hold",
    "object_noun",
)


def _ordered_metrics(metrics: dict, seconds: float) -> dict:
    """The metrics in the order they are stored (and read in the UI), with the wall time."""
    metrics = {**metrics, "seconds": seconds}
    return {key: metrics[key] for key in _METRICS_ORDER}


def _frame_depth(
    scene, frames, perception, target, trajectory, config: ReconstructionConfig, half_turn: bool
) -> tuple[dict, Views]:
    """Metric depth of every frame, calibrated to the real frame: (its report for the metrics, the target's
    views from it). A clip whose depth cannot be anchored (a shaking camera) is reported, not
    fatal: tracking does not need it. Views correct the half turn, so a target whose mesh came from a
    file (``half_turn`` false) gets none."""
    backend = load(config.depth) if isinstance(config.depth, str) else config.depth
    try:
        video = metric_depth_video(frames, scene, backend, config.depth_calibration)
    except ReconstructionError as exc:
        return {"backend": backend.name, "error": str(exc)}, _no_views(
            "the clip's depth could not be calibrated"
        )
    fits = [c.to_dict() for c in video.calibrations]
    residuals = np.array([f["residual_mm"] for f in fits])
    report = {
        "backend": backend.name,
        "frames": len(fits),
        "alpha_median": float(np.median([f["alpha"] for f in fits])),
        "beta_median": float(np.median([f["beta"] for f in fits])),
        "residual_mm_median": float(np.median(residuals)),
        "residual_mm_max": float(residuals.max()),
        "worst_frame": int(residuals.argmax()),
    }
    if not backend.shapes_moved_objects:
        skipped = f"the {backend.name!r} depth backend does not measure a moved object's shape"
        return report, _no_views(skipped)
    if not half_turn:
        return report, _no_views(
            "the target's mesh came from a mesh file, not from the half turn views correct"
        )
    views = gather_views(
        frames,
        video,
        trajectory,
        perception.target.points_world,
        perception.target.mask,
        target.vertices,
        target.faces,
        config.views,
    )
    return report, views


def _no_views(reason: str) -> Views:
    return Views([], np.zeros((0, 3)), None, 0.0, ViewReport(skipped=reason))


def _with_views(target, trajectory, perception, camera_position, table_height, views):
    """The target rebuilt from every view (new surface added, the mirror carved where a view saw empty
    space), and the trajectory re-expressed for its new frame origin."""
    points = np.concatenate([perception.target.points_world, views.new_points])
    carved = []

    def carve(candidates: np.ndarray) -> np.ndarray:
        empty = views.seen_empty(candidates)
        carved.append(int(empty.sum()))
        return empty

    mesh = object_mesh(points, camera_position, table_height, carve)
    views.report.points_carved = sum(carved)
    change = np.linalg.inv(target.pose_world) @ mesh.pose  # old object frame → new object frame
    poses = trajectory.poses_world @ change
    rebuilt = replace(
        target,
        vertices=mesh.vertices,
        faces=mesh.faces,
        pose_world=mesh.pose,
        face_part=mesh.face_part,
        arm_parts=mesh.arm_parts,
    )
    return rebuilt, Trajectory(trajectory.times, poses, trajectory.confidence)


def _static_scene(scene: ScenePackage, target_mask: np.ndarray) -> HeightMap:
    """Height map of everything the real depth frame saw except the target (which moves in the video)."""

    points, pixels = depth_to_points_world(scene.depth_m, scene.camera)
    moving = ndimage.binary_dilation(target_mask, iterations=2)
    return HeightMap.from_points(points[~moving[pixels[:, 0], pixels[:, 1]]])
