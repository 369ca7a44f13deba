"""Reconstruction → TwinSpec + mesh files.

Movable objects get their completed mesh for display and, for collision, the convex parts reconstruction
built it from (a lid and its knob) or else its convex hull (or a CoACD decomposition when the mesh is clearly
concave); containers get box walls. Every object is dropped onto the support plane so nothing starts inside
the table, and pairs that would overlap are reported.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, replace

import numpy as np
import trimesh
from transforms3d.quaternions import mat2quat

from physworld_core.errors import TwinError
from physworld_core.reconstruction.types import ReconstructedObject, Reconstruction
from physworld_core.skills.place.reconstruction import ShelfGeometry
from physworld_core.skills.sweep.reconstruction import DustpanGeometry
from physworld_core.twin.cooking import ensure_cookable
from physworld_core.twin.properties import PropertyPriors
from physworld_core.twin.spec import SLOT_SEAT_M, SURFACE_REST_TOLERANCE_M, GoalRegion, TwinObject, TwinSpec

CONTENTS_NOUN = "balls"
"""What a cup's contents are taken to be when the prompt does not say ("empty the cup into the bowl")."""
CONCAVITY_FOR_COACD = 1.25
"""Hull volume / mesh volume above which a single convex hull would fill real cavities."""


@dataclass(frozen=True)
class TwinBuild:
    spec: TwinSpec  # mesh fields hold file names (keys of ``files``)
    files: dict[str, bytes]


def _mesh_bytes(vertices: np.ndarray, faces: np.ndarray, file_type: str) -> bytes:
    buf = io.BytesIO()
    trimesh.Trimesh(vertices=vertices, faces=faces, process=False).export(buf, file_type=file_type)
    return buf.getvalue()


def _collision_parts(obj: ReconstructedObject) -> list[tuple[np.ndarray, np.ndarray]]:
    """Convex parts to collide with: the reconstruction's own parts when it made the mesh from some (each is
    a convex hull already; their union is the object), else the mesh's hull or, for a clearly concave mesh,
    a CoACD decomposition. Whether the simulator can cook each part is checked once for the whole twin
    (:func:`~physworld_core.twin.cooking.ensure_cookable`)."""
    known = obj.convex_parts()
    if known is not None:
        return [_hull(v) for v, _ in known]
    mesh = trimesh.Trimesh(vertices=obj.vertices, faces=obj.faces, process=True)
    hull = mesh.convex_hull
    if mesh.is_volume and hull.volume / max(mesh.volume, 1e-12) > CONCAVITY_FOR_COACD:
        from physworld_core.twin.decompose import convex_decompose

        return convex_decompose(mesh.vertices, mesh.faces)
    return [(np.asarray(hull.vertices), np.asarray(hull.faces))]


def _hull(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hull = trimesh.convex.convex_hull(np.asarray(vertices))
    return np.asarray(hull.vertices), np.asarray(hull.faces)


def _drop_to_plane(obj: ReconstructedObject, table_height: float) -> float:
    """How far to move ``obj`` up (or down) to rest 0.5 mm above the support plane."""
    T = obj.pose_world
    lowest = float((obj.vertices @ T[:3, :3].T + T[:3, 3])[:, 2].min())
    return table_height - lowest + 0.0005


def _pose7(T: np.ndarray) -> tuple[float, ...]:
    return (*map(float, T[:3, 3]), *map(float, mat2quat(T[:3, :3])))


def build_twin(
    recon: Reconstruction,
    camera_json: str,
    table_rgb: tuple[float, float, float],
    priors: PropertyPriors = PropertyPriors(),
) -> TwinBuild:
    """Make the twin spec. The world frame is already gravity-aligned (the support plane normal is +z)."""
    normal = np.asarray(recon.plane_normal)
    if normal[2] < 0.98:
        raise TwinError(
            f"twin {recon.task_id}: support plane normal {normal.round(3).tolist()} is not vertical; "
            "gravity alignment failed"
        )
    table_height = float(recon.plane_offset / normal[2])  # plane: normal . p = offset
    files: dict[str, bytes] = {}
    objects = []
    for obj in recon.objects:
        if obj.role == "region":
            continue  # a drawn marking has no body: it becomes the goal below
        pose = obj.pose_world.copy()
        # Rest on the plane, never inside it; what a cup holds moves with the cup.
        held = obj.role == "contents" and recon.metrics.get("skill") == "pour"
        pose[2, 3] += _drop_to_plane(recon.target if held else obj, table_height)
        visual_name = f"{obj.name}_visual.obj"
        files[visual_name] = _mesh_bytes(obj.vertices, obj.faces, "obj")
        rgba = (*map(float, obj.rgb), 1.0)
        if obj.role == "container":  # a fixture: box walls (a dustpan: its convex parts), no mass estimate
            meshes, boxes = (), ()
            if isinstance(obj.container, DustpanGeometry):
                meshes = []
                for i, points in enumerate(obj.container.part_points()):
                    name = f"{obj.name}_collision_{i}.ply"
                    files[name] = _mesh_bytes(*_hull(points), "ply")
                    meshes.append(name)
                meshes = tuple(meshes)
            else:
                boxes = tuple((tuple(map(float, c)), tuple(map(float, h))) for c, h in obj.container.boxes())
            mass, mass_range, fixed = (
                priors.container_mass,
                (priors.container_mass, priors.container_mass),
                True,
            )
        else:
            parts, volume = [], 0.0
            for i, (v, f) in enumerate(_collision_parts(obj)):
                name = f"{obj.name}_collision_{i}.ply"
                files[name] = _mesh_bytes(v, f, "ply")
                parts.append(name)
                volume += float(trimesh.Trimesh(v, f).convex_hull.volume)
            meshes, boxes, fixed = tuple(parts), (), False
            # What the prompt calls the target ("pot lid") and what it holds ("marbles") says their material;
            # the others are known by sight only.
            noun = {"target": recon.metrics.get("object_noun", ""), "contents": CONTENTS_NOUN}.get(
                obj.role, ""
            )
            if obj.role == "contents":
                noun = recon.metrics.get("contents_noun") or noun
            mass, mass_range = priors.mass_for(volume, noun)
        objects.append(
            TwinObject(
                name=obj.name,
                role=obj.role,
                label=obj.label,
                pose=_pose7(pose),
                visual_mesh=visual_name,
                collision_meshes=meshes,
                collision_boxes=boxes,
                rgba=rgba,
                mass=mass,
                mass_range=mass_range,
                friction=priors.friction,
                friction_range=priors.friction_range,
                fixed=fixed,
                grip_parts=obj.arm_parts if obj.role == "target" and recon.metrics.get("hold") else (),
            )
        )
    files = ensure_cookable(files)
    if recon.goal is None:
        goal = upright_goal(recon, table_height)
    else:
        goal = goal_region(recon.goal, table_height, recon.target, recon.metrics.get("relation", "in"))
    if recon.metrics.get("skill") == "sweep" and goal.kind != "sweep":
        raise TwinError(
            f"twin {recon.task_id}: a sweep goes into a dustpan; the {recon.goal_label} gives a {goal.kind!r} goal"
        )
    if recon.metrics.get("skill") == "pour":
        if goal.kind != "volume":
            raise TwinError(
                f"twin {recon.task_id}: a pour goes into a container's interior; the {recon.goal_label} "
                f"gives a {goal.kind!r} goal"
            )
        goal = replace(goal, kind="pour")
    traj = recon.trajectory
    spec = TwinSpec(
        task_id=recon.task_id,
        table_height=table_height,
        table_rgba=(*map(float, table_rgb), 1.0),
        objects=tuple(objects),
        goal=goal,
        trajectory_times=tuple(map(float, traj.times)),
        trajectory_poses=tuple(_pose7(T) for T in traj.poses_world),
        camera_json=camera_json,
        notes={"mass_model": "volume x density prior", "priors": json.loads(json.dumps(priors.__dict__))},
        skill=recon.metrics.get("skill", "place"),
    )
    return TwinBuild(spec, files)


SLOT_MAX_TILT_DEG = 25.0
"""…and stand within this of upright: leaning on a neighbour is fine, lying across the gap is not."""
FIT_INSIDE_CLEARANCE_M = 0.005
"""A target put "on" a container fits inside it when its footprint radius is this much under the opening's
half width; otherwise it rests on the rim (a lid on a pot)."""
ROUND_FOOTPRINT_FILL = 0.85
"""Footprint hull area / bounding-box area below this reads as round (a disc fills pi/4 of its box)."""


UPRIGHT_MAX_TILT_DEG = 15.0
"""A fallen object counts as stood up when its base → top axis is within this of vertical."""
UPRIGHT_GOAL_RADIUS_M = 0.15
"""…anywhere within this of where the video stands it: "stand it up" names no place, and the hand may carry it
to where the wrist can tip it (see :mod:`physworld_core.policy.upright`)."""


def upright_goal(recon, table_height: float) -> GoalRegion:
    """The goal of a prompt that stands a fallen object up: the target on its base, on the table, near where
    the tracked video leaves it, its ``up_local`` axis (from the reconstruction) vertical."""
    up_local = recon.metrics.get("up_local")
    if up_local is None:
        raise TwinError(
            f"twin {recon.task_id}: the reconstruction has no goal object and no standing axis (up_local); "
            "only a fallen object to stand up has the table as its goal"
        )
    target = recon.target
    centre_local = 0.5 * (target.vertices.min(0) + target.vertices.max(0))
    end = recon.trajectory.poses_world[-1]
    centre = end[:3, :3] @ centre_local + end[:3, 3]
    return GoalRegion(
        center=(float(centre[0]), float(centre[1]), table_height),
        half_extents=(UPRIGHT_GOAL_RADIUS_M, UPRIGHT_GOAL_RADIUS_M),
        yaw=0.0,
        top_z=table_height + SURFACE_REST_TOLERANCE_M,
        kind="upright",
        shape="disc",
        max_tilt_deg=UPRIGHT_MAX_TILT_DEG,
        up_local=tuple(map(float, up_local)),
    )


def footprint(vertices: np.ndarray) -> tuple[str, tuple[float, float], float]:
    """(shape, half extents, radius) of a mesh's outline seen from above, in its own (world-axis) frame."""
    from scipy.spatial import ConvexHull

    xy = vertices[:, :2] - 0.5 * (vertices[:, :2].min(0) + vertices[:, :2].max(0))
    half = 0.5 * (xy.max(0) - xy.min(0))
    fill = ConvexHull(xy).volume / max(4 * half[0] * half[1], 1e-12)
    radius = float(np.linalg.norm(xy, axis=1).max())
    if fill < ROUND_FOOTPRINT_FILL:
        r = float(half.min())
        return "disc", (r, r), radius
    return "box", (float(half[0]), float(half[1])), radius


def goal_region(
    goal: ReconstructedObject,
    table_height: float,
    target: ReconstructedObject | None = None,
    relation: str = "in",
) -> GoalRegion:
    """The twin's success region from the reconstructed goal: a container's interior, a flat marking, the top
    of a solid (``role == "support"``), or a container's rim when the target is put "on" it and is too wide to
    go in (a lid)."""
    T = goal.pose_world
    yaw = float(np.arctan2(T[1, 0], T[0, 0]))
    centre = (float(T[0, 3]), float(T[1, 3]), table_height)
    if goal.role == "region":
        return GoalRegion(
            center=centre,
            half_extents=tuple(map(float, goal.region.half_extents)),
            yaw=yaw,
            top_z=table_height + SURFACE_REST_TOLERANCE_M,
            kind="surface",
            shape=goal.region.shape,
            rgba=(*map(float, goal.rgb), 1.0),
        )
    if goal.role == "support":
        shape, half, _ = footprint(goal.vertices)
        centre_xy = T[:2, 3] + 0.5 * (goal.vertices[:, :2].min(0) + goal.vertices[:, :2].max(0))
        height = float(np.ptp(goal.vertices[:, 2]))
        return GoalRegion(
            center=(float(centre_xy[0]), float(centre_xy[1]), table_height),
            half_extents=half,
            yaw=0.0,  # an object mesh's frame has world axes
            top_z=table_height + height + 0.0005,  # build_twin rests every body 0.5 mm above the plane
            kind="top",
            shape=shape,
            on=goal.name,
        )
    geom = goal.container
    if isinstance(geom, DustpanGeometry):  # its interior, past the mouth (the region's -x edge)
        inside = T[:2, :2] @ np.array([geom.depth / 2, 0.0]) + T[:2, 3]
        return GoalRegion(
            center=(float(inside[0]), float(inside[1]), table_height),
            half_extents=tuple(map(float, geom.inner_half)),
            yaw=yaw,
            top_z=table_height + float(geom.wall_height),
            kind="sweep",
            floor_z=table_height + float(geom.floor_height),
        )
    if isinstance(geom, ShelfGeometry):  # the row's free gap, down on the board, standing
        slot_xy = T[:2, :2] @ np.array([geom.slot_x, 0.0]) + T[:2, 3]
        return GoalRegion(
            center=(float(slot_xy[0]), float(slot_xy[1]), table_height),
            half_extents=(float(geom.slot_half_width), float(geom.board_half[1])),
            yaw=yaw,
            top_z=table_height + float(geom.board_height) + SLOT_SEAT_M,
            kind="slot",
            max_tilt_deg=SLOT_MAX_TILT_DEG,
        )
    if relation == "on" and target is not None:
        _, _, radius = footprint(target.vertices)
        opening = float(min(geom.inner_half))
        if radius > opening - FIT_INSIDE_CLEARANCE_M:
            # It covers the opening: its centre may wander as far as still leaves the rim under it all round.
            slack = max(radius - opening, 0.0) + 0.005
            return GoalRegion(
                center=centre,
                half_extents=(slack, slack),
                yaw=yaw,
                top_z=table_height + float(geom.wall_height),
                kind="top",
                shape="disc",
            )
    return GoalRegion(
        center=centre,
        half_extents=(float(geom.inner_half[0]), float(geom.inner_half[1])),
        yaw=yaw,
        top_z=table_height + float(geom.wall_height),
    )
