"""Reconstruction → TwinSpec + mesh files.

Movable objects get their completed mesh for display and, for collision, the convex parts reconstruction
built it from (a lid and its knob) or else its convex hull (or a CoACD decomposition when the mesh is clearly
concave); containers get box walls. Every object is dropped onto the support plane so nothing starts inside
the table, and pairs that would overlap are reported.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np
import trimesh
from transforms3d.quaternions import mat2quat

from physworld_core.errors import TwinError
from physworld_core.reconstruction.types import ReconstructedObject, Reconstruction
from physworld_core.skills.registry import DEFAULT_SKILL
from physworld_core.twin.cooking import ensure_cookable
from physworld_core.twin.decompose import convex_decompose
from physworld_core.twin.properties import PropertyPriors
from physworld_core.twin.skill import twin_of
from physworld_core.twin.spec import TwinObject, TwinSpec

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
    skill_name = recon.metrics.get("skill", DEFAULT_SKILL)
    skill = twin_of(skill_name)
    files: dict[str, bytes] = {}
    objects = []
    for obj in recon.objects:
        if obj.role == "region":
            continue  # a drawn marking has no body: it becomes the goal below
        pose = obj.pose_world.copy()
        # Rest on the plane, never inside it; what the target holds (a cup's balls) moves with it.
        held = obj.role == "contents" and skill.contents_held
        pose[2, 3] += _drop_to_plane(recon.target if held else obj, table_height)
        visual_name = f"{obj.name}_visual.obj"
        files[visual_name] = _mesh_bytes(obj.vertices, obj.faces, "obj")
        rgba = (*map(float, obj.rgb), 1.0)
        if obj.role == "container":  # a fixture: box walls (or its convex parts: a dustpan), no mass estimate
            meshes, boxes = (), ()
            if obj.container.convex_parts():
                meshes = []
                for i, points in enumerate(obj.container.convex_parts()):
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
            noun = {"target": recon.metrics.get("object_noun", ""), "contents": skill.contents_noun}.get(
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
    goal = skill.goal(recon, table_height)
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
        skill=skill_name,
    )
    return TwinBuild(spec, files)
