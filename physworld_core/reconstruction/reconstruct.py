"""The reconstruction stage's algorithm: RGB-D frame + generated video → object models + target trajectory.

Inputs are only the scene package (one real RGB-D frame, camera, prompt) and the decoded video frames.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from physworld_core.errors import ReconstructionError
from physworld_core.perception._skill_views import pour_of, slot_of, standing_of, sweep_of
from physworld_core.perception.perceive import Perception, perceive
from physworld_core.perception.segment import SceneObject
from physworld_core.reconstruction.completion import CompletionBackend, CompletionRequest
from physworld_core.reconstruction.completion import load as load_completion
from physworld_core.reconstruction.depth import DepthBackend, MetricDepthConfig, load, metric_depth_video
from physworld_core.reconstruction.geometry import container_model, object_mesh, region_model, shelf_model
from physworld_core.reconstruction.lying import lying_body_model
from physworld_core.reconstruction.pouring import WALL_M, ball_layer, ball_mesh, ball_radius, open_cup
from physworld_core.reconstruction.sweeping import brush_model, dustpan_model, scrap_model
from physworld_core.reconstruction.tracking import HeightMap, TrackingConfig, track_target
from physworld_core.reconstruction.types import (
    DustpanGeometry,
    ReconstructedObject,
    Reconstruction,
    Trajectory,
)
from physworld_core.reconstruction.views import ViewConfig, ViewReport, Views, gather_views
from physworld_core.scene import ScenePackage, depth_to_points_world

MIN_ALIGN_TILT_DEG = 0.25
"""Below this, tilt is plane-fit noise (0.25° moves a point 0.5 m away by 2 mm, under the plane's own rms);
re-expressing the scene would only run perception twice."""
MAX_TILT_DEG = 15.0
"""A support plane tilted more than this from the calibrated vertical means bad extrinsics, not a slope."""


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


def gravity_alignment(normal: np.ndarray) -> np.ndarray:
    """Rotation taking the support-plane normal to +z (minimal rotation)."""
    n = normal / np.linalg.norm(normal)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(n, z)
    s, c = np.linalg.norm(axis), float(n @ z)
    if s < 1e-9:
        return np.eye(3)
    k = axis / s
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * K + (1 - c) * K @ K


def _world_yaw(perception: Perception, yaw_plane: float) -> float:
    e1, e2, _ = perception.plane.basis()
    axis = np.cos(yaw_plane) * e1 + np.sin(yaw_plane) * e2
    return float(np.arctan2(axis[1], axis[0]))


def reconstruct(
    scene: ScenePackage, frames: np.ndarray, fps: float, config: ReconstructionConfig = ReconstructionConfig()
) -> Reconstruction:
    start = time.time()
    if frames.ndim != 4 or frames.shape[1:3] != scene.rgb.shape[:2]:
        raise ReconstructionError(
            f"video frames {frames.shape[1:3]} do not match the scene image {scene.rgb.shape[:2]}"
        )
    perception = perceive(scene)
    normal = np.asarray(perception.plane.normal)
    tilt = float(np.degrees(np.arccos(np.clip(normal[2], -1, 1))))
    if tilt > MAX_TILT_DEG:
        raise ReconstructionError(
            f"support plane is tilted {tilt:.1f} deg from the camera's vertical: check "
            "camera.json's cam_to_world"
        )
    R = gravity_alignment(normal)
    if tilt > MIN_ALIGN_TILT_DEG:  # re-express everything in the gravity-aligned frame
        scene = ScenePackage(
            task_id=scene.task_id,
            rgb=scene.rgb,
            depth_m=scene.depth_m,
            camera=_rotated_camera(scene.camera, R),
            prompt=scene.prompt,
            source=scene.source,
        )
        perception = perceive(scene)
    table_height = float(perception.plane.offset)
    camera_position = scene.camera.extrinsic[:3, 3]
    objects = []
    completer = (
        load_completion(config.completion) if isinstance(config.completion, str) else config.completion
    )
    completions: dict[str, str] = {}
    target_vertices = target_faces = target_pose = None
    obstacle_index = 0
    for seen in perception.objects:
        if seen is perception.goal and seen.shape == "region":
            geometry, v, f, pose = region_model(
                seen.centre_world,
                seen.extents[:2],
                _world_yaw(perception, seen.yaw),
                seen.roundness,
                table_height,
            )
            objects.append(
                ReconstructedObject(
                    "goal_region",
                    "region",
                    seen.description,
                    v,
                    f,
                    pose,
                    tuple(np.asarray(seen.mean_rgb) / 255.0),
                    region=geometry,
                )
            )
            continue
        if seen.shape == "region":
            continue  # another marking on the table: no body, nothing to model
        if sweep_of(perception) is not None and seen is not perception.target and _is_scrap(seen, perception):
            continue  # modelled with the others from the sweep's own view below
        fixture = _fixture_model(seen, perception, table_height) if seen is perception.goal else None
        if fixture is not None:
            geometry, v, f, pose = fixture
            rgb = tuple(np.asarray(seen.mean_rgb) / 255.0)
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
        if role == "target" and pour_of(perception) is not None:
            # A cup to pour from: an open cylinder of convex parts (a completed mesh would close its mouth).
            v, f, face_part = open_cup(pour_of(perception).outer_radius, pour_of(perception).height)
            pose, arm_parts, half_turn = np.eye(4), (), False
            pose[:3, 3] = pour_of(perception).centre
            completions[name] = "open cup"
        elif role == "target" and sweep_of(perception) is not None:
            # A brush: its head and its handle as two boxes, in a frame facing the way the head does.
            sweep = sweep_of(perception)
            v, f, face_part, pose = brush_model(
                sweep.head_centre,
                sweep.facing,
                head_width=sweep.head_width,
                head_depth=sweep.head_depth,
                head_height=sweep.head_height,
                handle_length=sweep.handle_length,
                handle_width=sweep.handle_width,
                handle_height=sweep.handle_height,
            )
            arm_parts, half_turn = (), False
            completions[name] = "brush (head and handle)"
        else:
            completion = completer.complete(
                CompletionRequest(scene.task_id, name, seen.points_world, camera_position, table_height)
            )
            completions[name] = completion.source
            v, f, pose, face_part, arm_parts = completion.mesh
            if role == "target":
                half_turn = completion.is_half_turn
            lying = (
                lying_body_model(seen.points_world, standing_of(perception), table_height)
                if role == "target" and standing_of(perception) is not None and half_turn
                else None
            )
            if lying is not None:  # a fallen bottle: round about the axis it lies along (see .lying)
                (v, f, pose), face_part, arm_parts, half_turn = lying, None, (), False
                completions[name] = "lying body of revolution"
        if role == "target":
            target_vertices, target_faces, target_pose = v, f, pose
        objects.append(
            ReconstructedObject(
                name,
                role,
                seen.description,
                v,
                f,
                pose,
                tuple(np.asarray(seen.mean_rgb) / 255.0),
                face_part=face_part,
                arm_parts=arm_parts,
            )
        )
    hold = perception.instruction.hold
    target = next(o for o in objects if o.role == "target")
    if hold == "handle" and not target.arm_parts:
        raise ReconstructionError(
            f"the prompt says to hold the {perception.target.description} by its handle, but its reconstruction "
            "has none: no narrow part sticks out of its footprint in the first frame (is the handle hidden "
            "behind the body, or outside the image?)"
        )
    # A fallen object to stand up: its base → top axis as perception read it from the seen points, the reading
    # the video was made from. Read again on the completed mesh, the mirrored half can swap which end looks
    # wider (upright-0006), and the twin would then be told to stand it on its top.
    standing = standing_of(perception)
    trajectory, tracking_stats = track_target(
        frames,
        fps,
        scene.camera,
        target_vertices,
        target_faces,
        target_pose,
        perception.target.mask,
        _tracking_for(perception, config.tracking, standing),
        static=_static_scene(scene, perception.target.mask),
    )
    depth_metrics, views = _frame_depth(scene, frames, perception, target, trajectory, config, half_turn)
    if views:
        target, trajectory = _with_views(target, trajectory, perception, camera_position, table_height, views)
        objects = [target if o.role == "target" else o for o in objects]
    metrics = {
        "plane_rms_m": perception.plane.rms,
        "plane_inlier_fraction": perception.plane.inlier_fraction,
        "tilt_deg": tilt,
        "table_height_m": table_height,
        "num_objects": len(objects),
        "tracking": tracking_stats,
        "depth": depth_metrics,
        "views": views.report.to_dict(),
        "completion": completions,
        "seconds": time.time() - start,
        "target": perception.target.description,
        "container": "table" if perception.goal is None else perception.goal.description,
        "skill": perception.instruction.skill,
        "relation": perception.instruction.relation,
        "hold": hold,
        "object_noun": perception.instruction.object_noun,
    }
    if standing is not None:
        metrics.update(_standing(target, trajectory, standing))
    if pour_of(perception) is not None:
        contents, pour_metrics = _pour(target, trajectory, perception)
        objects += contents
        metrics.update(pour_metrics)
    if sweep_of(perception) is not None:
        contents, sweep_metrics = _sweep(trajectory, perception, table_height)
        objects += contents
        metrics.update(sweep_metrics)
    return Reconstruction(
        task_id=scene.task_id,
        plane_normal=(0.0, 0.0, 1.0),
        plane_offset=table_height,
        objects=tuple(objects),
        trajectory=trajectory,
        metrics=metrics,
    )


def _tracking_for(perception: Perception, tracking: TrackingConfig, standing) -> TrackingConfig:
    """A fallen object stood up turns a quarter turn about the horizontal axis square to its own: the tracker
    fits the turn about that axis. The default fits the turn about the vertical only; fitting all three angles,
    the fit of a 30-pixel bottle (upright-0001) ended 100° from vertical where the video stands it up. A cup
    poured tips about the horizontal axis square to the way it pours, towards the goal: the tracker fits that
    turn the same way."""
    if tracking.rotation != "yaw":
        return tracking
    if standing is not None:
        axis = np.cross(standing.axis, perception.plane.normal_array)
        turns = (-STAND_UP_MAX_TURN_DEG, STAND_UP_MAX_TURN_DEG)
    elif pour_of(perception) is not None:
        # Tipped towards the goal only: a silhouette seen from above cannot tell a tilt towards the camera from
        # one away from it, and the fit took the mirror turn (away from the bowl) on pour-0000.
        axis = np.cross(perception.plane.normal_array, pour_direction(perception))
        turns = (-POUR_BACK_TURN_DEG, POUR_MAX_TURN_DEG)
    else:
        return tracking
    turn_range = tuple(float(np.radians(t)) for t in turns)
    return replace(tracking, rotation="axis", turn_axis=tuple(map(float, axis)), turn_range=turn_range)


POUR_MAX_TURN_DEG = 170.0
"""A cup poured is tipped past horizontal, but never turned upside down and beyond…"""
POUR_BACK_TURN_DEG = 10.0
"""…and towards the goal: never more than this the other way (a wobble as it is lifted)."""
POUR_VIDEO_MIN_TILT_DEG = 60.0
"""A video that pours tips the cup at least this far: less, and nothing would roll out of it."""


def pour_direction(perception: Perception) -> np.ndarray:
    """The horizontal unit vector from the cup to the goal it pours into: the way a video tips it."""
    normal = perception.plane.normal_array
    d = np.asarray(perception.goal.centre_world) - np.asarray(pour_of(perception).centre)
    d = d - (d @ normal) * normal
    if np.linalg.norm(d) < 1e-6:
        raise ReconstructionError("the cup stands on the goal's centre: no way to pour into it")
    return d / np.linalg.norm(d)


def _pour(target, trajectory: Trajectory, perception: Perception) -> tuple[list, dict]:
    """The cup's contents as bodies (one layer of balls on its floor, see :mod:`.pouring`), and how far the
    tracked video tips the cup. A video that does not tip it far enough to pour is refused: the twin's goal
    would contradict what the video shows."""
    final = trajectory.poses_world[-1][:3, :3] @ np.linalg.inv(trajectory.poses_world[0][:3, :3])
    tilt = float(np.degrees(np.arccos(np.clip(final[2, 2], -1.0, 1.0))))
    if tilt < POUR_VIDEO_MIN_TILT_DEG:
        raise ReconstructionError(
            f"the prompt asks to pour from the {target.label}, but the tracked video tips it only {tilt:.0f} deg "
            f"by the end (at least {POUR_VIDEO_MIN_TILT_DEG:.0f} expected): the video does not pour"
        )
    view = pour_of(perception)
    radius = ball_radius(view.contents_top)
    centres = ball_layer(view.outer_radius - WALL_M, radius)
    v, f = ball_mesh(radius)
    rgb = (0.5, 0.5, 0.5) if view.contents_rgb is None else tuple(np.asarray(view.contents_rgb) / 255.0)
    noun = perception.instruction.contents_noun
    label = noun or "contents"
    contents = []
    for i, c in enumerate(centres):
        pose = target.pose_world.copy()
        pose[:3, 3] = target.pose_world[:3, :3] @ c + target.pose_world[:3, 3]
        contents.append(ReconstructedObject(f"contents_{i}", "contents", label, v, f, pose, rgb))
    metrics = {
        "contents_noun": noun,
        "pour": {
            "video_final_tilt_deg": tilt,
            "contents_count": len(centres),
            "contents_radius_m": radius,
            "contents_radius_from": "prior" if view.contents_top is None else "seen layer height",
            "cup_outer_radius_m": float(view.outer_radius),
            "cup_height_m": float(view.height),
        },
    }
    return contents, metrics


DUSTPAN_WALL_M = 0.007
"""A dustpan's wall thickness (a prior: from above, a 6–9 mm wall is one pixel)."""
SWEEP_VIDEO_MIN_TRAVEL_M = 0.05
"""A video that sweeps carries the brush at least this far towards the dustpan."""


def _is_scrap(seen: SceneObject, perception: Perception) -> bool:
    """A segmented object that is one of the scraps the sweep's view found (a camera with finer pixels than
    the benchmark's segments them): modelled once, as a scrap."""
    centre = np.asarray(seen.centre_world)[:2]
    return any(
        np.linalg.norm(centre - scrap.centre[:2]) < float(max(scrap.half_size[:2])) + 0.005
        for scrap in sweep_of(perception).scraps
    )


def _sweep(trajectory: Trajectory, perception: Perception, table_height: float) -> tuple[list, dict]:
    """The scraps as bodies (boxes standing on the table, see :mod:`.sweeping`), and how far the tracked video
    carries the brush towards the dustpan. A video that does not bring it at least
    :data:`SWEEP_VIDEO_MIN_TRAVEL_M` nearer is refused: the twin's goal would contradict what the video shows."""
    view = sweep_of(perception)
    positions = trajectory.positions
    mouth = np.asarray(view.mouth)[:2]
    travel = float(np.linalg.norm(positions[0, :2] - mouth) - np.linalg.norm(positions[-1, :2] - mouth))
    if travel < SWEEP_VIDEO_MIN_TRAVEL_M:
        raise ReconstructionError(
            f"the prompt asks to sweep with the {perception.target.description}, but the tracked video brings it "
            f"only {travel * 1000:.0f} mm nearer the {perception.goal.description} (at least "
            f"{SWEEP_VIDEO_MIN_TRAVEL_M * 1000:.0f} mm expected): the video does not sweep"
        )
    noun = perception.instruction.contents_noun
    contents = []
    for i, scrap in enumerate(view.scraps):
        v, f, pose = scrap_model(scrap.centre, scrap.half_size, scrap.yaw, table_height)
        rgb = tuple(np.asarray(scrap.rgb) / 255.0)
        contents.append(ReconstructedObject(f"contents_{i}", "contents", noun or "scraps", v, f, pose, rgb))
    metrics = {
        "contents_noun": noun,
        "sweep": {
            "video_travel_m": travel,
            "scraps_count": len(contents),
            "head_width_m": float(view.head_width),
            "pan_inner_width_m": float(view.pan_inner_width),
            "pan_depth_m": float(view.pan_depth),
        },
    }
    return contents, metrics


STAND_UP_MAX_TURN_DEG = 110.0
"""A stand-up turns the object a quarter turn, base or top down: the tracker never follows it much past that."""


UPRIGHT_VIDEO_TILT_DEG = 30.0
"""A video that stands the object up leaves its base → top axis within this of vertical in the last frame."""


def _standing(target, trajectory: Trajectory, standing) -> dict:
    """Which of the target's own axes must end pointing up (``up_local``, base → top), and how upright the
    tracked video leaves it. A video whose last frame leaves that axis far from vertical (stood on its top,
    or not stood up at all) is refused: the twin's goal would then contradict what the video shows."""
    up_local = target.pose_world[:3, :3].T @ standing.axis
    final = trajectory.poses_world[-1][:3, :3] @ up_local
    video_tilt = float(np.degrees(np.arccos(np.clip(final[2], -1.0, 1.0))))
    if video_tilt > UPRIGHT_VIDEO_TILT_DEG:
        raise ReconstructionError(
            f"the prompt asks to stand the {target.label} up, but the tracked video leaves its base-to-top axis "
            f"{video_tilt:.0f} deg from vertical at the end (at most {UPRIGHT_VIDEO_TILT_DEG:.0f} expected): "
            "the video does not stand it on its base"
        )
    return {
        "up_local": [float(v) for v in up_local],
        "standing_axis": standing.to_dict(),
        "video_final_tilt_deg": video_tilt,
    }


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
    from scipy import ndimage

    points, pixels = depth_to_points_world(scene.depth_m, scene.camera)
    moving = ndimage.binary_dilation(target_mask, iterations=2)
    return HeightMap.from_points(points[~moving[pixels[:, 0], pixels[:, 1]]])


def _fixture_model(goal: SceneObject, perception: Perception, table_height: float):
    """The goal as a fixture, (geometry, vertices, faces, pose): a shelf's board and row when the prompt asks
    for a slot in it, a dustpan to sweep into, an open box when the target goes in it; ``None`` for a solid to
    put the target on."""
    if sweep_of(perception) is not None:
        view = sweep_of(perception)
        geometry = DustpanGeometry(
            inner_width=view.pan_inner_width,
            depth=view.pan_depth,
            floor_height=view.pan_floor_height,
            lip_length=view.pan_lip_length,
            wall_height=view.pan_wall_height,
            wall_thickness=DUSTPAN_WALL_M,
        )
        mouth = np.array([view.mouth[0], view.mouth[1], table_height])
        return dustpan_model(geometry, mouth, view.into_pan)
    if slot_of(perception) is not None:
        return shelf_model(goal, slot_of(perception), perception.plane, table_height)
    if _is_support(perception):
        return None
    length, width, _height = goal.extents
    return container_model(
        goal.points_world,
        np.asarray(goal.centre_world),
        length,
        width,
        _world_yaw(perception, goal.yaw),
        goal.top_height,
        table_height,
    )


def _is_support(perception: Perception) -> bool:
    """The goal is a solid to put the target on ("on the blue block"), not a container to put it in: the
    prompt says "on" and the goal is not hollow. "On the tray" and "on the pot" keep their walls: whether the
    object then rests inside or on the rim is the twin's call (see ``twin.build.goal_region``)."""
    return perception.instruction.relation == "on" and perception.goal.shape != "container"


def _rotated_camera(camera, R: np.ndarray):
    from physworld_core.scene import CameraSpec

    T = np.eye(4)
    T[:3, :3] = R
    return CameraSpec(
        fx=camera.fx,
        fy=camera.fy,
        cx=camera.cx,
        cy=camera.cy,
        width=camera.width,
        height=camera.height,
        cam_to_world=(T @ camera.extrinsic).tolist(),
    )
