"""Fidelity of the reconstruction and the twin, scored against a benchmark world's hidden truth.

The pipeline never sees this truth: :func:`world_truth` reads it from the world env only to score what the
pipeline produced from the captured frame. Everything else here is pure (arrays and dataclasses in, numbers
out), so each figure can become a Dagster asset check.

Metrics (one :class:`FidelityReport` per task):

- **Chamfer distance** (mm, symmetric mean of nearest-neighbour distances between dense surface samples) of the
  reconstructed target, placed in the world at the first frame, to the target's true collision surface, and the
  same for the container / goal object. Surfaces are sampled at ``SAMPLES_PER_M2`` (≈ 1 point/mm²), which puts
  the sampling floor of a perfect reconstruction at ≈ 0.3 mm. Objects built of several convex parts (a bin's
  floor and walls) are sampled on their union's outer surface: points of one part buried inside another are
  dropped, so hidden faces where parts overlap neither count nor pull the score.
- **Depth error** (mm, mean): the back-projected target pixels (what perception measured) against the true
  surface, one-sided. It is kept apart from Chamfer because Chamfer mixes two errors: what the camera and the
  mask measured (depth noise, mask pixels bled from the table or a neighbour) and what completion guessed (the
  mirrored back, the footprint extruded to the table). A small depth error with a large Chamfer blames
  completion; a large depth error blames segmentation.
- **Support IoU** over the robot's workspace seen from above (cells of ``SUPPORT_CELL_M``): a cell is
  *support* when the table top is the first surface a vertical ray meets there, i.e. the cell is on the table
  top and under no object's footprint. True: ManiSkill's table box (top at z = 0) minus the footprints of the
  world's collision parts; reconstructed: the twin's table box minus the footprints of the reconstructed
  objects. Parts lower than ``FLAT_PART_M`` (markers drawn on the table) are support, not obstacles. Because
  the table covers the whole workspace, ``1 - IoU`` is the footprint disagreement (missed, invented, misplaced
  or misshaped objects) over the free table area. Plus the plane's height error and the angle between the
  fitted normal and true vertical (before gravity alignment; :mod:`~physworld_core.reconstruction.reconstruct`
  records it as ``tilt_deg``).
- **Mass** and **friction**: the twin's target estimates against the values the world simulates (the PhysX
  body's mass, the collision material's static friction), as signed % error and whether the truth lies inside
  the estimate's randomization range.
- **Tracking** (mm, deg): the tracked target trajectory against the motion the procedural video rendered
  (``plan["object_transforms_world"]``), both applied to the tracked first pose, as
  :func:`physworld_core.reconstruction.stage.tracking_error` does for positions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError, cKDTree
from transforms3d.quaternions import quat2mat

from physworld_core.perception.stage import load_perception
from physworld_core.reconstruction.geometry import boxes_mesh
from physworld_core.reconstruction.stage import load_reconstruction
from physworld_core.reconstruction.tracking import sample_surface
from physworld_core.robot import PANDA
from physworld_core.twin.stage import load_twin

SAMPLES_PER_M2 = 1.0e6
"""Surface samples per m² (≈ 1 per mm²): mean nearest-neighbour spacing ≈ 0.5 mm, so a perfect reconstruction
scores ≈ 0.3 mm — below any threshold by 20×."""
MAX_SAMPLES_PER_OBJECT = 200_000
"""Caps a large object (the true table is not sampled; a 20 cm bin is ≈ 0.12 m², under this)."""
SUPPORT_CELL_M = 0.005
"""Top-view cell of the support IoU: 5 mm, the scale of the Chamfer budget and below any object's size."""
FLAT_PART_M = 0.002
"""A collision part whose top is within this of the table is a flat marker (a target pad), not an obstacle.
Markers are ≤ 1.2 mm (the push worlds' pads, the twin's 1 mm region), while the thinnest real floor (a shoebox's
or a pan's, 4–7 mm) is an obstacle: the table is not the first surface seen inside a box. At 5 mm the box floors
counted as free table in the truth only, which cost every shoe and pan task ≈ 3 % of IoU."""
INSIDE_TOLERANCE_M = 1e-6
"""A sample counts as buried in another convex part only if it is deeper than this (faces that touch stay)."""


# --- the truth (the only function here that touches a world) ---------------------------------------------

ConvexPart = tuple[np.ndarray, np.ndarray]
"""(V×3 vertices, F×3 faces) of one convex piece, world frame."""


@dataclass(frozen=True, eq=False)
class WorldTruth:
    """What a world is scored against, read once per task at the captured frame.

    Args:
        task_id: the benchmark task id.
        family: the world family.
        target_parts: convex collision parts of the target (world frame).
        goal_parts: convex collision parts of the container / goal object (the world's ``goal_actor``);
            ``None`` when the world has none.
        obstacle_parts: convex collision parts of every object on the table (target and goal included), for the
            support region.
        table_top_z: height of the table's top face.
        table_rect: (x_min, x_max, y_min, y_max) of the table top.
        target_mass: kg, as simulated.
        target_friction: static friction of the target's collision material.
    """

    task_id: str
    family: str
    target_parts: tuple[ConvexPart, ...]
    goal_parts: tuple[ConvexPart, ...] | None
    obstacle_parts: tuple[ConvexPart, ...]
    table_top_z: float
    table_rect: tuple[float, float, float, float]
    target_mass: float
    target_friction: float


def shape_mesh(shape) -> ConvexPart:
    """A PhysX collision shape as a mesh in its actor's frame.

    Written here rather than taken from ManiSkill's ``get_component_meshes``: that helper builds cylinders and
    capsules along z and then applies the shape's local pose, which assumes PhysX's x axis, so every upright
    can comes out lying on its side."""
    # sapien (~0.9 s) only where a simulated actor is read: the geometry helpers here run without a simulator.
    import sapien

    physx = sapien.physx
    to_x = trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0])  # trimesh's z axis → PhysX's x axis
    if isinstance(shape, physx.PhysxCollisionShapeBox):
        mesh = trimesh.creation.box(extents=2 * np.asarray(shape.half_size))
    elif isinstance(shape, physx.PhysxCollisionShapeCylinder):
        mesh = trimesh.creation.cylinder(radius=shape.radius, height=2 * shape.half_length, sections=64)
        mesh.apply_transform(to_x)
    elif isinstance(shape, physx.PhysxCollisionShapeCapsule):
        mesh = trimesh.creation.capsule(height=2 * shape.half_length, radius=shape.radius)
        mesh.apply_transform(to_x)
    elif isinstance(shape, physx.PhysxCollisionShapeSphere):
        mesh = trimesh.creation.icosphere(radius=shape.radius)
    elif isinstance(shape, physx.PhysxCollisionShapeConvexMesh):
        mesh = trimesh.Trimesh(np.asarray(shape.vertices) * shape.scale, shape.get_triangles())
    else:
        raise TypeError(f"no surface model for collision shape {type(shape).__name__} (not convex)")
    mesh.apply_transform(shape.get_local_pose().to_transformation_matrix())
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


def _body(actor):
    # sapien (~0.9 s) only where a simulated actor is read: the geometry helpers here run without a simulator.
    import sapien

    return actor._objs[0].find_component_by_type(sapien.physx.PhysxRigidBaseComponent)


def actor_parts(actor) -> tuple[ConvexPart, ...]:
    """An actor's convex collision parts in the world frame, where it stands now (first sub-scene)."""
    raw = actor.pose.raw_pose[0].cpu().numpy().astype(np.float64)
    R, t = quat2mat(raw[3:]), raw[:3]
    parts = []
    for shape in _body(actor).get_collision_shapes():
        vertices, faces = shape_mesh(shape)
        parts.append((vertices @ R.T + t, faces))
    return tuple(parts)


def world_truth(task) -> WorldTruth:
    """Open ``task``'s world (no rendering), reset it to the captured trial and read the truth.

    ``capture_scene`` resets with ``seed=task.seed``; the reset jitter comes from the episode seed, so the same
    reset puts every object exactly where the captured frame saw it.
    """
    # evaluation.worlds loads ManiSkill (~10 s cold): only scoring against a true world needs it.
    from physworld_core.evaluation.worlds import make_world_env

    env = make_world_env(task, obs_mode="none", robot_pose="capture")
    try:
        env.reset(seed=task.seed)
        world = env.unwrapped
        table = world.table_scene.table
        skip = {table.name, world.table_scene.ground.name}
        obstacles = tuple(
            part
            for name, actor in world.scene.actors.items()
            if name not in skip
            for part in actor_parts(actor)
        )
        table_vertices = np.vstack([v for v, _ in actor_parts(table)])
        lo, hi = table_vertices.min(0), table_vertices.max(0)
        body = _body(world.target_object)
        goal = world.goal_actor()
        frictions = [s.get_physical_material().static_friction for s in body.get_collision_shapes()]
        return WorldTruth(
            task_id=task.task_id,
            family=task.family,
            target_parts=actor_parts(world.target_object),
            goal_parts=None if goal is None else actor_parts(goal),
            obstacle_parts=obstacles,
            table_top_z=float(hi[2]),
            table_rect=(float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])),
            target_mass=float(body.mass),
            target_friction=float(np.mean(frictions)),
        )
    finally:
        env.close()


# --- pure geometry ------------------------------------------------------------------------------------------


def _halfspaces(vertices: np.ndarray) -> np.ndarray | None:
    """Outward face planes (n, d) with n·p + d <= 0 inside; ``None`` for a flat or degenerate part."""
    try:
        return ConvexHull(vertices).equations
    except QhullError:
        return None


def union_surface_points(
    parts: tuple[ConvexPart, ...] | list[ConvexPart],
    samples_per_m2: float = SAMPLES_PER_M2,
    max_samples: int = MAX_SAMPLES_PER_OBJECT,
    seed: int = 0,
) -> np.ndarray:
    """Points on the outer surface of a union of convex parts, at about ``samples_per_m2``.

    Each part's surface is sampled in proportion to its area; samples buried inside another part are dropped.
    The same parts and seed give the same points."""
    if not parts:
        raise ValueError("an object needs at least one part to sample")
    rng = np.random.default_rng(seed)
    areas = []
    for vertices, faces in parts:
        tri = np.asarray(vertices)[np.asarray(faces)]
        areas.append(
            0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
        )
    total = float(np.sum(areas))
    budget = min(max_samples, max(len(parts) * 16, round(total * samples_per_m2)))
    planes = [_halfspaces(np.asarray(v)) for v, _ in parts]
    kept = []
    for index, ((vertices, faces), area) in enumerate(zip(parts, areas)):
        count = max(16, round(budget * area / total))
        points = sample_surface(vertices, faces, count, rng)
        buried = np.zeros(len(points), dtype=bool)
        for other, eq in enumerate(planes):
            if other != index and eq is not None:
                buried |= np.all(points @ eq[:, :3].T + eq[:, 3] < -INSIDE_TOLERANCE_M, axis=1)
        kept.append(points[~buried])
    return np.concatenate(kept)


def nearest_distances(from_points: np.ndarray, to_points: np.ndarray) -> np.ndarray:
    """Distance from each of ``from_points`` to its nearest neighbour in ``to_points``."""
    return cKDTree(np.asarray(to_points, dtype=np.float64)).query(np.asarray(from_points, dtype=np.float64))[
        0
    ]


def chamfer_mm(points_a: np.ndarray, points_b: np.ndarray) -> float:
    """Symmetric mean Chamfer distance in millimetres: the mean of the two one-sided mean nearest-neighbour
    distances (so a shift by ``d`` smaller than half the sample spacing scores exactly ``d``)."""
    if len(points_a) == 0 or len(points_b) == 0:
        raise ValueError("Chamfer distance needs two non-empty point sets")
    a_to_b = nearest_distances(points_a, points_b).mean()
    b_to_a = nearest_distances(points_b, points_a).mean()
    return float(1000 * 0.5 * (a_to_b + b_to_a))


def parts_chamfer_mm(parts_a, parts_b, samples_per_m2: float = SAMPLES_PER_M2) -> float:
    """:func:`chamfer_mm` between the outer surfaces of two unions of convex parts."""
    return chamfer_mm(
        union_surface_points(parts_a, samples_per_m2, seed=0),
        union_surface_points(parts_b, samples_per_m2, seed=1),
    )


def reconstructed_parts(obj) -> tuple[ConvexPart, ...]:
    """A :class:`~physworld_core.reconstruction.types.ReconstructedObject` as convex parts in the world: a
    container's floor and walls (its display mesh is those boxes), the layers of a layered mesh (a lid and its
    knob), otherwise its completed convex mesh."""
    pose = np.asarray(obj.pose_world, dtype=np.float64)
    if obj.container is not None:
        local = [boxes_mesh([box]) for box in obj.container.boxes()]
    elif obj.convex_parts() is not None:
        local = [
            (np.asarray(v, dtype=np.float64), np.asarray(f, dtype=np.int64)) for v, f in obj.convex_parts()
        ]
    else:
        local = [(np.asarray(obj.vertices, dtype=np.float64), np.asarray(obj.faces, dtype=np.int64))]
    return tuple((v @ pose[:3, :3].T + pose[:3, 3], f) for v, f in local)


# --- support plane ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopViewGrid:
    """Cell centres over a rectangle of the table plane, seen from above.

    Args:
        x_range, y_range: (min, max) in metres (default: the robot's workspace).
        cell_m: cell side.
    """

    x_range: tuple[float, float] = (PANDA.workspace_min[0], PANDA.workspace_max[0])
    y_range: tuple[float, float] = (PANDA.workspace_min[1], PANDA.workspace_max[1])
    cell_m: float = SUPPORT_CELL_M

    def __post_init__(self) -> None:
        if self.cell_m <= 0:
            raise ValueError(f"cell_m must be positive, got {self.cell_m}")
        for name in ("x_range", "y_range"):
            lo, hi = getattr(self, name)
            if not hi > lo:
                raise ValueError(f"{name} must be (min, max) with max > min, got {(lo, hi)}")

    def centres(self) -> np.ndarray:
        """(H·W)×2 cell centres."""
        xs = np.arange(self.x_range[0] + self.cell_m / 2, self.x_range[1], self.cell_m)
        ys = np.arange(self.y_range[0] + self.cell_m / 2, self.y_range[1], self.cell_m)
        gx, gy = np.meshgrid(xs, ys, indexing="ij")
        return np.column_stack([gx.ravel(), gy.ravel()])


def support_mask(
    centres_xy: np.ndarray,
    table_rect: tuple[float, float, float, float],
    table_z: float,
    parts: tuple[ConvexPart, ...] | list[ConvexPart],
    flat_m: float = FLAT_PART_M,
) -> np.ndarray:
    """Cells where the table top is the first surface seen from above: on the table, under no part's footprint
    (parts no taller than ``flat_m`` above the table do not count)."""
    x0, x1, y0, y1 = table_rect
    xy = np.asarray(centres_xy, dtype=np.float64)
    support = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    for vertices, _faces in parts:
        vertices = np.asarray(vertices, dtype=np.float64)
        if vertices[:, 2].max() <= table_z + flat_m:
            continue
        try:
            eq = ConvexHull(vertices[:, :2]).equations
        except QhullError:  # a part seen edge-on from above covers no area
            continue
        support &= ~np.all(xy @ eq[:, :2].T + eq[:, 2] <= 0, axis=1)
    return support


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1 when both are empty: they agree)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} vs {b.shape}")
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)


# --- trajectories -------------------------------------------------------------------------------------------


def rotation_angle_deg(R_a: np.ndarray, R_b: np.ndarray) -> np.ndarray:
    """Angle (deg) of the rotation between stacks of rotation matrices (…×3×3)."""
    relative = np.swapaxes(np.asarray(R_a), -1, -2) @ np.asarray(R_b)
    cosine = (np.trace(relative, axis1=-2, axis2=-1) - 1) / 2
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def trajectory_error(
    tracked_poses_world: np.ndarray, rendered_transforms_world: np.ndarray
) -> dict[str, float]:
    """Tracked target poses (T×4×4) against the rendered rigid motion (T×4×4, identity at frame 0).

    The expected pose at frame ``t`` is ``rendered[t] @ tracked[0]``: the motion is scored, not the first pose
    (that is the reconstruction's error, measured by Chamfer)."""
    tracked = np.asarray(tracked_poses_world, dtype=np.float64)
    rendered = np.asarray(rendered_transforms_world, dtype=np.float64)
    if tracked.shape != rendered.shape or tracked.ndim != 3 or tracked.shape[1:] != (4, 4):
        raise ValueError(f"trajectories differ in shape: {tracked.shape} vs {rendered.shape}")
    expected = rendered @ tracked[0]
    position = np.linalg.norm(tracked[:, :3, 3] - expected[:, :3, 3], axis=1)
    angle = rotation_angle_deg(tracked[:, :3, :3], expected[:, :3, :3])
    return {
        "mean_mm": float(1000 * position.mean()),
        "max_mm": float(1000 * position.max()),
        "final_mm": float(1000 * position[-1]),
        "mean_deg": float(angle.mean()),
        "max_deg": float(angle.max()),
    }


# --- report and checks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FidelityReport:
    """Fidelity figures of one task. ``None`` marks a figure that does not apply (no goal object in the
    family, no recorded motion in the video's plan, no observed target points); it is never a silent pass.

    Args:
        task_id, family: which benchmark world.
        target_chamfer_mm: see the module docstring.
        container_chamfer_mm: the same for the goal object (a container, a base to stack on, a marking).
        target_depth_error_mm: mean distance of the back-projected target pixels to the true surface.
        support_iou: free-table IoU over the workspace (module docstring).
        plane_height_error_mm: reconstructed table height minus the true one (signed).
        plane_normal_error_deg: angle between the fitted table normal and true vertical.
        mass_true_kg, mass_estimate_kg, mass_range_kg: simulated mass, the twin's estimate and range.
        mass_error_pct: (estimate - truth) / truth × 100.
        friction_true, friction_estimate, friction_range, friction_error_pct: likewise for static friction.
        tracking_mean_mm, tracking_final_mm, tracking_max_mm, tracking_mean_deg, tracking_max_deg: see
            :func:`trajectory_error`.
        reconstruction_seconds: wall time of the reconstruction call.
    """

    task_id: str
    family: str
    target_chamfer_mm: float
    container_chamfer_mm: float | None
    target_depth_error_mm: float | None
    support_iou: float
    plane_height_error_mm: float
    plane_normal_error_deg: float
    mass_true_kg: float
    mass_estimate_kg: float
    mass_range_kg: tuple[float, float]
    mass_error_pct: float
    friction_true: float
    friction_estimate: float
    friction_range: tuple[float, float]
    friction_error_pct: float
    tracking_mean_mm: float | None
    tracking_final_mm: float | None
    tracking_max_mm: float | None
    tracking_mean_deg: float | None
    tracking_max_deg: float | None
    reconstruction_seconds: float

    @property
    def mass_in_range(self) -> bool:
        return self.mass_range_kg[0] <= self.mass_true_kg <= self.mass_range_kg[1]

    @property
    def friction_in_range(self) -> bool:
        return self.friction_range[0] <= self.friction_true <= self.friction_range[1]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mass_range_kg"], d["friction_range"] = list(self.mass_range_kg), list(self.friction_range)
        d["mass_in_range"], d["friction_in_range"] = self.mass_in_range, self.friction_in_range
        return d


def percent_error(estimate: float, truth: float) -> float:
    if truth == 0:
        raise ValueError("percent error of a zero truth is undefined")
    return float(100 * (estimate - truth) / truth)


def score_fidelity(
    truth: WorldTruth,
    recon,
    twin_spec,
    *,
    observed_target_points: np.ndarray | None = None,
    rendered_transforms_world: np.ndarray | None = None,
    reconstruction_seconds: float = float("nan"),
    grid: TopViewGrid = TopViewGrid(),
) -> FidelityReport:
    """All fidelity figures of one task from its truth and what the pipeline made.

    Args:
        truth: from :func:`world_truth`.
        recon: the :class:`~physworld_core.reconstruction.types.Reconstruction`.
        twin_spec: the :class:`~physworld_core.twin.spec.TwinSpec` built from it.
        observed_target_points: N×3 back-projected target pixels (perception's ``target.points_world``).
        rendered_transforms_world: the video plan's ``object_transforms_world`` (T×4×4), if it recorded one.
        reconstruction_seconds: wall time of the reconstruction.
        grid: the top-view grid of the support IoU.
    """
    # twin.env loads ManiSkill and torch (~3 s): only scoring a whole task needs its table constants.
    from physworld_core.twin.env import TABLE_CENTER_XY, TABLE_HALF

    target_surface = union_surface_points(truth.target_parts, seed=0)
    target_chamfer = chamfer_mm(
        target_surface, union_surface_points(reconstructed_parts(recon.target), seed=1)
    )
    container_chamfer = None
    # a bin or a pot, a flat marking (push), a base to stack on
    goals = recon.by_role("container") + recon.by_role("region") + recon.by_role("support")
    if truth.goal_parts and goals:  # a drawn marking (push) has no body to compare
        container_chamfer = parts_chamfer_mm(truth.goal_parts, reconstructed_parts(goals[0]))
    depth_error = None
    if observed_target_points is not None and len(observed_target_points):
        depth_error = float(1000 * nearest_distances(observed_target_points, target_surface).mean())

    centres = grid.centres()
    true_support = support_mask(centres, truth.table_rect, truth.table_top_z, truth.obstacle_parts)
    twin_rect = (
        TABLE_CENTER_XY[0] - TABLE_HALF[0],
        TABLE_CENTER_XY[0] + TABLE_HALF[0],
        TABLE_CENTER_XY[1] - TABLE_HALF[1],
        TABLE_CENTER_XY[1] + TABLE_HALF[1],
    )
    recon_parts = tuple(part for obj in recon.objects for part in reconstructed_parts(obj))
    twin_support = support_mask(centres, twin_rect, twin_spec.table_height, recon_parts)

    tracking: dict[str, float | None] = dict.fromkeys(
        ("mean_mm", "final_mm", "max_mm", "mean_deg", "max_deg")
    )
    if rendered_transforms_world is not None:
        rendered = np.asarray(rendered_transforms_world, dtype=np.float64)
        if rendered.shape == recon.trajectory.poses_world.shape:
            tracking.update(trajectory_error(recon.trajectory.poses_world, rendered))

    target = twin_spec.target
    return FidelityReport(
        task_id=truth.task_id,
        family=truth.family,
        target_chamfer_mm=target_chamfer,
        container_chamfer_mm=container_chamfer,
        target_depth_error_mm=depth_error,
        support_iou=mask_iou(true_support, twin_support),
        plane_height_error_mm=float(1000 * (twin_spec.table_height - truth.table_top_z)),
        plane_normal_error_deg=float(recon.metrics["tilt_deg"]),
        mass_true_kg=truth.target_mass,
        mass_estimate_kg=float(target.mass),
        mass_range_kg=tuple(map(float, target.mass_range)),
        mass_error_pct=percent_error(target.mass, truth.target_mass),
        friction_true=truth.target_friction,
        friction_estimate=float(target.friction),
        friction_range=tuple(map(float, target.friction_range)),
        friction_error_pct=percent_error(target.friction, truth.target_friction),
        tracking_mean_mm=tracking["mean_mm"],
        tracking_final_mm=tracking["final_mm"],
        tracking_max_mm=tracking["max_mm"],
        tracking_mean_deg=tracking["mean_deg"],
        tracking_max_deg=tracking["max_deg"],
        reconstruction_seconds=float(reconstruction_seconds),
    )


@dataclass(frozen=True)
class FidelityThresholds:
    """Pass/fail limits of each fidelity figure, each derived from what the downstream stages can absorb.

    Mass and friction have no % limit on purpose: one RGB-D frame cannot see density or friction, so the twin
    carries a prior and a range and the policy is trained over the whole range; what must hold is that the
    truth lies inside it (checked as ``mass_in_range`` / ``friction_in_range``). The % errors are reported.

    Args:
        target_chamfer_mm: 8 mm, 10% of the Panda's 80 mm opening. The widest bin target is 64 mm across, so
            the open fingers clear it by ≥ 8 mm a side; a mean surface error beyond that can put a finger on
            the object while closing. It is also under a quarter of the smallest target (36 mm).
        container_chamfer_mm: 12 mm, half the smallest clearance between a bin's inner wall and the largest
            target (65 mm inner half-width − 42 mm half-diagonal ≈ 23 mm): a goal misplaced or misshaped by this
            much still has the dropped object land inside. (For "stack", the block's centre must be ≥ 32 mm
            inside the base's edge, so the same limit is safe there.)
        depth_error_mm: 3 mm. Benchmark depth is exact up to ManiSkill's 1 mm quantisation, so a clean mask
            scores ≈ 0.6 mm; a mean of 3 mm means several % of the mask are pixels bled from the table or a
            neighbour a few cm away.
        support_iou: 0.98. The table covers the whole workspace, so 1 − IoU is the footprint disagreement over
            ≈ 0.6 m² of free table: 2% ≈ 120 cm², about a 1 cm band around the perimeter of a bin plus two
            objects (the Chamfer budgets), while a missed or invented bin (≥ 200 cm²) fails.
        plane_height_mm: 5 mm, a quarter of the 2 cm clearance planners keep when releasing above a goal; the
            twin rests objects on its table, so the error shifts every grasp and drop height by as much.
        plane_normal_deg: 1°: over the ±0.3 m reach from the workspace centre, tan(1°)·0.3 m ≈ 5 mm, the height
            budget.
        tracking_mean_mm: 30 mm, the clearance the video keeps above obstacles under the carry: a tracked path
            off by more may cut through the rim the video cleared.
        tracking_final_mm: 20 mm: the end point must still land the largest target (42 mm half-diagonal) in
            the smallest bin (65 mm inner half-width) with 3 mm to spare.
        tracking_mean_deg: 10°: a box target's corner (≤ 42 mm from its centre) then moves ≤ 7 mm, half the
            container budget.
    """

    target_chamfer_mm: float = 8.0
    container_chamfer_mm: float = 12.0
    depth_error_mm: float = 3.0
    support_iou: float = 0.98
    plane_height_mm: float = 5.0
    plane_normal_deg: float = 1.0
    tracking_mean_mm: float = 30.0
    tracking_final_mm: float = 20.0
    tracking_mean_deg: float = 10.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"FidelityThresholds.{f.name} must be a positive number, got {value!r}")
        if self.support_iou > 1:
            raise ValueError(f"FidelityThresholds.support_iou must lie in (0, 1], got {self.support_iou!r}")


@dataclass(frozen=True)
class MetricCheck:
    """One pass/fail verdict: ``value`` compared with ``limit`` (``"<="``, ``">="``, or ``"in"`` a range)."""

    metric: str
    value: float
    comparison: str
    limit: float | tuple[float, float]
    passed: bool

    def to_dict(self) -> dict:
        return asdict(self)


def check_fidelity(
    report: FidelityReport, thresholds: FidelityThresholds = FidelityThresholds()
) -> tuple[MetricCheck, ...]:
    """Verdicts for every figure of ``report`` that applies (figures that are ``None`` get no verdict).

    Signed errors (plane height) are compared by magnitude."""
    t = thresholds
    upper = [
        ("target_chamfer_mm", report.target_chamfer_mm, t.target_chamfer_mm),
        ("container_chamfer_mm", report.container_chamfer_mm, t.container_chamfer_mm),
        ("target_depth_error_mm", report.target_depth_error_mm, t.depth_error_mm),
        (
            "plane_height_error_mm",
            None if report.plane_height_error_mm is None else abs(report.plane_height_error_mm),
            t.plane_height_mm,
        ),
        ("plane_normal_error_deg", report.plane_normal_error_deg, t.plane_normal_deg),
        ("tracking_mean_mm", report.tracking_mean_mm, t.tracking_mean_mm),
        ("tracking_final_mm", report.tracking_final_mm, t.tracking_final_mm),
        ("tracking_mean_deg", report.tracking_mean_deg, t.tracking_mean_deg),
    ]
    checks = [
        MetricCheck(name, float(v), "<=", limit, bool(v <= limit))
        for name, v, limit in upper
        if v is not None
    ]
    checks.append(
        MetricCheck(
            "support_iou", report.support_iou, ">=", t.support_iou, report.support_iou >= t.support_iou
        )
    )
    checks.append(
        MetricCheck("mass_in_range", report.mass_true_kg, "in", report.mass_range_kg, report.mass_in_range)
    )
    checks.append(
        MetricCheck(
            "friction_in_range", report.friction_true, "in", report.friction_range, report.friction_in_range
        )
    )
    return tuple(checks)


def fidelity_for_task(store, task_id: str) -> tuple[FidelityReport, tuple[MetricCheck, ...]] | None:
    """The fidelity report of a stored task against its world's hidden truth, or ``None`` when the task has
    no benchmark world to compare with (a user's capture, a stock ManiSkill env).

    Reads what the stages stored (scene, chosen video sample's plan, reconstruction, twin); truth is used only
    here, to score."""
    # evaluation.worlds loads ManiSkill (~10 s cold): only scoring against a true world needs it.
    from physworld_core.evaluation.worlds import BenchmarkTask

    source = store.one_row("tasks", task_id)["source"]
    if not source.startswith("benchmark:"):
        return None
    task = BenchmarkTask.parse(source)
    recon = load_reconstruction(store, task_id)
    spec, _ = load_twin(store, task_id)
    sample = int(store.one_row("reconstructions", task_id)["sample"])
    videos = store.lake.read_partition("videos", task_id)
    plan = json.loads(videos.filter(videos["sample"] == sample).row(0, named=True)["plan_json"])
    report = score_fidelity(
        world_truth(task),
        recon,
        spec,
        observed_target_points=load_perception(store, task_id).perception.target.points_world,
        rendered_transforms_world=plan.get("object_transforms_world"),
        reconstruction_seconds=float(recon.metrics.get("seconds", float("nan"))),
    )
    return report, check_fidelity(report)
