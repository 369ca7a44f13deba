"""Procedural meshes for benchmark worlds: built with trimesh, cached on disk by content, added to actors.

SAPIEN loads meshes from files; writing each generated mesh under a name derived from its bytes makes a world
cheap to rebuild (same seed, same file) and safe when two processes build worlds at once.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import sapien
import trimesh


def cache_dir() -> Path:
    root = Path(os.environ.get("PHYSWORLD_CACHE", Path.home() / ".cache" / "physworld")) / "meshes"
    root.mkdir(parents=True, exist_ok=True)
    return root


def mesh_file(mesh: trimesh.Trimesh) -> str:
    """Write ``mesh`` as .obj under its content hash (atomically) and return the path."""
    data = trimesh.exchange.obj.export_obj(mesh, include_normals=False, include_texture=False)
    path = cache_dir() / f"{hashlib.sha256(data.encode()).hexdigest()[:24]}.obj"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(data)
        os.replace(tmp, path)
    return str(path)


def material(friction: float) -> sapien.physx.PhysxMaterial:
    return sapien.physx.PhysxMaterial(static_friction=friction, dynamic_friction=friction, restitution=0.0)


def add_convex_mesh(
    builder,
    mesh: trimesh.Trimesh,
    rgba,
    friction: float,
    density: float = 500.0,
    pose: sapien.Pose | None = None,
    visual: bool = True,
) -> None:
    """One convex collision shape (the mesh's hull) plus the mesh itself as the visual."""
    pose = pose or sapien.Pose()
    builder.add_convex_collision_from_file(
        mesh_file(mesh.convex_hull), pose=pose, material=material(friction), density=density
    )
    if visual:
        builder.add_visual_from_file(
            mesh_file(mesh), pose=pose, material=sapien.render.RenderMaterial(base_color=list(rgba))
        )


def revolve(profile_rz: np.ndarray, sections: int = 32) -> trimesh.Trimesh:
    """Surface of revolution about z from an (r, z) polyline running bottom to top (closed at the axis by
    starting and ending at r = 0): cans, bottles, cups, bowls, pots."""
    return trimesh.creation.revolve(np.asarray(profile_rz, dtype=np.float64), sections=sections)


def rounded_box(extents, radius: float) -> trimesh.Trimesh:
    """A box with rounded vertical edges (books, shoeboxes, blocks that are not perfect cubes)."""
    ex, ey, ez = extents
    r = min(radius, 0.45 * ex, 0.45 * ey)
    angles = np.linspace(0, np.pi / 2, 6)
    corners = [
        (ex / 2 - r, ey / 2 - r, 0.0),
        (-ex / 2 + r, ey / 2 - r, np.pi / 2),
        (-ex / 2 + r, -ey / 2 + r, np.pi),
        (ex / 2 - r, -ey / 2 + r, 1.5 * np.pi),
    ]
    ring = np.array(
        [(cx + r * np.cos(a + o), cy + r * np.sin(a + o)) for cx, cy, o in corners for a in angles]
    )
    points = np.vstack([np.column_stack([ring, np.full(len(ring), z)]) for z in (-ez / 2, ez / 2)])
    return trimesh.convex.convex_hull(points)  # a rounded box is convex: its hull is exact


def ring_wall_boxes(inner_radius: float, thickness: float, height: float, segments: int = 12):
    """Box (centre, half size, yaw) pieces approximating a hollow cylinder wall standing on z = 0: the
    convex decomposition of a pot, cup or bowl wall that stays watertight to small spheres."""
    r = inner_radius + thickness / 2
    half_chord = (inner_radius + thickness) * np.tan(np.pi / segments)
    for k in range(segments):
        a = 2 * np.pi * k / segments
        yield (r * np.cos(a), r * np.sin(a), height / 2), (thickness / 2, half_chord, height / 2), a
