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
from transforms3d.euler import euler2quat

from physworld_core.sim.base_env import require_collision_shapes

UPRIGHT_CYLINDER = euler2quat(0, np.pi / 2, 0)  # SAPIEN cylinders lie along x; this stands them up along z.


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


def build_actor(builder, name: str, kinematic: bool = False):
    """Build a dynamic (or kinematic) actor and check that every collision shape added to ``builder`` is on
    it: ManiSkill drops a collision file it cannot load without an error, and the actor falls through the
    table."""
    actor = builder.build_kinematic(name=name) if kinematic else builder.build(name=name)
    require_collision_shapes(actor, name, len(builder.collision_records))
    return actor


def pose_on_table(xy, z: float = 0.0, yaw: float = 0.0) -> sapien.Pose:
    """An actor's pose at table point ``xy``, its origin ``z`` above the table, turned by ``yaw`` about z."""
    return sapien.Pose(p=[xy[0], xy[1], z], q=euler2quat(0, 0, yaw))


def build_convex_actor(
    scene, name: str, meshes, rgba, friction: float, pose, density: float = 500.0, kinematic: bool = False
):
    """An actor at ``pose`` made of convex pieces: each of ``meshes`` (one mesh or several) is collided as
    its convex hull and drawn as itself."""
    builder = scene.create_actor_builder()
    for mesh in [meshes] if isinstance(meshes, trimesh.Trimesh) else meshes:
        add_convex_mesh(builder, mesh, rgba, friction, density=density)
    builder.initial_pose = pose
    return build_actor(builder, name, kinematic)


def revolve(profile_rz: np.ndarray, sections: int = 32) -> trimesh.Trimesh:
    """Surface of revolution about z from an (r, z) polyline running bottom to top (closed at the axis by
    starting and ending at r = 0): cans, bottles, cups, bowls, pots."""
    return trimesh.creation.revolve(np.asarray(profile_rz, dtype=np.float64), sections=sections)


def chamfered_cylinder(radius: float, height: float, chamfer: float, sections: int) -> trimesh.Trimesh:
    """An upright cylinder (a prism when ``sections`` is small, e.g. 6 for a hexagonal nut) with both rims
    chamfered by ``chamfer``, centred on its middle: pucks, drums, cans."""
    r, h, c = radius, height, chamfer
    mesh = revolve(np.array([(0, 0), (r - c, 0), (r, c), (r, h - c), (r - c, h), (0, h)]), sections=sections)
    mesh.apply_translation([0, 0, -h / 2])
    return mesh


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


def add_ring_wall(builder, inner_radius, thickness, height, segments, mat, density: float = 1000.0) -> None:
    """The collision wall of a pot, cup or bowl: ``ring_wall_boxes`` added as boxes (1000 kg/m³ is SAPIEN's
    default, for kinematic containers whose mass does not matter)."""
    for centre, half, angle in ring_wall_boxes(inner_radius, thickness, height, segments):
        builder.add_box_collision(
            pose=sapien.Pose(p=list(centre), q=euler2quat(0, 0, angle)),
            half_size=list(half),
            material=mat,
            density=density,
        )


def open_cylinder_profile(inner, outer, floor, height, bevel: float = 0.0) -> np.ndarray:
    """(r, z) profile of an open cup, bowl, pot or pan (radii ``inner`` and ``outer``), bottom to top, closed
    at the axis; ``bevel`` rounds off the outer bottom edge."""
    base = [[0, 0], [outer - bevel, 0], [outer, bevel]] if bevel > 0 else [[0, 0], [outer, 0]]
    return np.array(base + [[outer, height], [inner, height], [inner, floor], [0, floor]])


def add_open_cylinder(
    builder,
    inner,
    wall,
    floor,
    height,
    rgba,
    friction,
    density,
    segments,
    *,
    bevel: float | None = None,
    outer: float | None = None,
) -> None:
    """An open cylindrical container standing on z = 0: a floor disc (one convex shape) and a ring of wall
    boxes (a hollow wall has no convex hull that keeps things in), drawn as the revolved profile.

    ``bevel`` defaults to 3 mm or half the wall, whichever is less. ``outer`` defaults to ``inner + wall``; a
    container measured by its outer radius passes that, so its floor disc is exactly as wide as specified."""
    outer = inner + wall if outer is None else outer
    disk = trimesh.creation.cylinder(radius=outer, height=floor, sections=24)
    disk.apply_translation([0, 0, floor / 2])
    add_convex_mesh(builder, disk, rgba, friction, density, visual=False)
    add_ring_wall(builder, inner, wall, height, segments, material(friction), density)
    bevel = min(0.003, wall / 2) if bevel is None else bevel
    builder.add_visual_from_file(
        mesh_file(revolve(open_cylinder_profile(inner, outer, floor, height, bevel))),
        material=sapien.render.RenderMaterial(base_color=list(rgba)),
    )


def add_open_box(builder, inner_half, wall_thickness, wall_height, floor_thickness, mat, rgba) -> None:
    """An open-top box (bin, shoebox) on z = 0 in its own frame: a floor and four walls, each a box."""
    ix, iy = inner_half
    t, h, f = wall_thickness, wall_height, floor_thickness
    parts = [
        ([0, 0, f / 2], [ix + t, iy + t, f / 2]),  # floor
        ([ix + t / 2, 0, h / 2], [t / 2, iy + t, h / 2]),
        ([-(ix + t / 2), 0, h / 2], [t / 2, iy + t, h / 2]),
        ([0, iy + t / 2, h / 2], [ix, t / 2, h / 2]),
        ([0, -(iy + t / 2), h / 2], [ix, t / 2, h / 2]),
    ]
    look = sapien.render.RenderMaterial(base_color=list(rgba))
    for p, half in parts:
        builder.add_box_collision(pose=sapien.Pose(p=p), half_size=half, material=mat)
        builder.add_box_visual(pose=sapien.Pose(p=p), half_size=half, material=look)


def prism(points_xz: np.ndarray, y0: float, y1: float) -> trimesh.Trimesh:
    """A convex prism from an (x, z) polygon extruded across y (a dustpan's floor, lip and walls)."""
    pts = [[x, y, z] for x, z in points_xz for y in (y0, y1)]
    return trimesh.convex.convex_hull(np.asarray(pts))


def ellipsoid_points(centre, radii, n: int = 10) -> np.ndarray:
    """An n × n grid of points on an ellipsoid's surface (latitude by longitude)."""
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, n, endpoint=False), np.linspace(-np.pi / 2, np.pi / 2, n))
    pts = np.column_stack(
        [np.cos(v).ravel() * np.cos(u).ravel(), np.cos(v).ravel() * np.sin(u).ravel(), np.sin(v).ravel()]
    )
    return pts * np.asarray(radii) + np.asarray(centre)


def blob_hull(ellipsoids, floor: bool = True) -> trimesh.Trimesh:
    """Convex hull of a few ellipsoids (centre, radii), optionally cut flat at z = 0 (a sole): soft organic
    shapes (a shoe, a ball of socks) that stay one convex collision shape."""
    points = np.vstack([ellipsoid_points(c, r) for c, r in ellipsoids])
    if floor:
        points[:, 2] = np.maximum(points[:, 2], 0.0)
    return trimesh.convex.convex_hull(points)


def cylinder_rim_points(radius: float, z_bottom: float, z_top: float, sections: int) -> np.ndarray:
    """Points on the bottom and top rims of an upright cylinder: spans its geometry for bounding boxes and
    lowest points."""
    angles = np.linspace(0, 2 * np.pi, sections, endpoint=False)
    ring = np.column_stack([radius * np.cos(angles), radius * np.sin(angles)])
    return np.vstack([np.column_stack([ring, np.full(sections, z)]) for z in (z_bottom, z_top)])
