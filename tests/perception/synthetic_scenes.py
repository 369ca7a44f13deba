"""Synthetic RGB-D tabletop scenes for perception and video tests.

A tiny numpy ray caster over analytic shapes (an infinite table plane, vertical cylinders, yawed boxes; a bin
is five thin boxes) with Lambertian shading. It returns a real :class:`ScenePackage` plus the per-pixel object
id the renderer hit, which is the ground truth the tests compare against. The pipeline code never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from physworld_core.scene import CameraSpec, ScenePackage

TABLE_RGB = (196, 184, 160)
LIGHT_DIR = np.array([-0.35, 0.25, 1.0]) / np.linalg.norm([-0.35, 0.25, 1.0])


@dataclass(frozen=True)
class Cylinder:
    """Vertical cylinder standing on the table (or ``z_bottom`` above it)."""

    name: str
    centre_xy: tuple[float, float]
    radius: float
    height: float
    rgb: tuple[int, int, int]
    z_bottom: float = 0.0


@dataclass(frozen=True)
class Box:
    """Box standing on the table (``z_bottom`` above the table for bin parts), yawed about z."""

    name: str
    centre_xy: tuple[float, float]
    size: tuple[float, float, float]
    rgb: tuple[int, int, int]
    yaw: float = 0.0
    z_bottom: float = 0.0


def bin_parts(
    name: str,
    centre_xy: tuple[float, float],
    outer: tuple[float, float] = (0.16, 0.16),
    height: float = 0.09,
    wall: float = 0.008,
    floor: float = 0.01,
    rgb: tuple[int, int, int] = (150, 150, 155),
) -> list[Box]:
    """An open-top bin: a floor plate and four walls, all sharing ``name``."""
    cx, cy = centre_xy
    lx, ly = outer
    return [
        Box(name, (cx, cy), (lx, ly, floor), rgb),
        Box(name, (cx - lx / 2 + wall / 2, cy), (wall, ly, height), rgb),
        Box(name, (cx + lx / 2 - wall / 2, cy), (wall, ly, height), rgb),
        Box(name, (cx, cy - ly / 2 + wall / 2), (lx, wall, height), rgb),
        Box(name, (cx, cy + ly / 2 - wall / 2), (lx, wall, height), rgb),
    ]


@dataclass
class SyntheticScene:
    """A rendered scene and its ground truth."""

    scene: ScenePackage
    object_ids: np.ndarray  # H×W int: index into ``names`` of the surface hit, -1 for the table
    names: list[str]
    table_height: float
    shapes: list = field(default_factory=list)

    def mask(self, name: str) -> np.ndarray:
        return self.object_ids == self.names.index(name)


def look_at_camera(
    target: np.ndarray, distance: float, elevation_deg: float, azimuth_deg: float, size: int, fov_deg: float
) -> CameraSpec:
    """OpenCV camera (x right, y down, z forward) looking at ``target`` from a point on a sphere around it."""
    el, az = np.deg2rad(elevation_deg), np.deg2rad(azimuth_deg)
    position = target + distance * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    forward = (target - position) / np.linalg.norm(target - position)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    cam_to_world = np.eye(4)
    cam_to_world[:3, :3] = np.stack([right, down, forward], axis=1)
    cam_to_world[:3, 3] = position
    focal = (size / 2) / np.tan(np.deg2rad(fov_deg) / 2)
    return CameraSpec(
        fx=focal,
        fy=focal,
        cx=size / 2,
        cy=size / 2,
        width=size,
        height=size,
        cam_to_world=cam_to_world.tolist(),
    )


def render(
    shapes: list,
    *,
    prompt: str,
    table_height: float = 0.137,
    size: int = 128,
    distance: float = 0.6,
    elevation_deg: float = 45.0,
    azimuth_deg: float = 180.0,
    fov_deg: float = 60.0,
    depth_noise_m: float = 0.0,
    seed: int = 0,
    task_id: str = "synthetic",
) -> SyntheticScene:
    """Ray-cast ``shapes`` on a table at ``table_height`` into an RGB-D scene package."""
    camera = look_at_camera(
        np.array([0.0, 0.0, table_height]), distance, elevation_deg, azimuth_deg, size, fov_deg
    )
    rows, cols = np.mgrid[0:size, 0:size]
    dirs_cam = np.stack(
        [(cols + 0.5 - camera.cx) / camera.fx, (rows + 0.5 - camera.cy) / camera.fy, np.ones((size, size))],
        -1,
    ).reshape(-1, 3)
    cam_to_world = camera.extrinsic
    dirs = dirs_cam @ cam_to_world[:3, :3].T  # unnormalised: t is the z-depth
    origin = cam_to_world[:3, 3]

    n_rays = len(dirs)
    best_t = np.full(n_rays, np.inf)
    best_normal = np.zeros((n_rays, 3))
    best_rgb = np.zeros((n_rays, 3))
    best_id = np.full(n_rays, -1)

    def consider(t: np.ndarray, normal: np.ndarray, rgb, object_id: int) -> None:
        closer = t < best_t
        best_t[closer] = t[closer]
        best_normal[closer] = normal[closer]
        best_rgb[closer] = rgb[closer] if np.ndim(rgb) == 2 else rgb
        best_id[closer] = object_id

    # Table with a faint, smooth texture so background filling has something to get wrong.
    with np.errstate(divide="ignore", invalid="ignore"):
        t_table = (table_height - origin[2]) / dirs[:, 2]
    t_table = np.where(t_table > 0, t_table, np.inf)
    hit = origin + np.nan_to_num(t_table[:, None], posinf=0.0) * dirs
    texture = 8.0 * np.sin(hit[:, 0] * 40.0) * np.cos(hit[:, 1] * 30.0)
    table_rgb = np.clip(np.asarray(TABLE_RGB, dtype=np.float64)[None] + texture[:, None], 0, 255)
    consider(t_table, np.tile([0.0, 0.0, 1.0], (n_rays, 1)), table_rgb, -1)

    names: list[str] = []
    for shape in shapes:
        if shape.name not in names:
            names.append(shape.name)
        object_id = names.index(shape.name)
        if isinstance(shape, Cylinder):
            t, normal = _cylinder_hit(origin, dirs, shape, table_height)
        else:
            t, normal = _box_hit(origin, dirs, shape, table_height)
        consider(t, normal, np.asarray(shape.rgb, dtype=np.float64), object_id)

    shade = 0.35 + 0.65 * np.clip(best_normal @ LIGHT_DIR, 0.0, 1.0)
    rgb = np.clip(best_rgb * shade[:, None], 0, 255).round().astype(np.uint8).reshape(size, size, 3)
    depth = np.where(np.isfinite(best_t), best_t, 0.0).reshape(size, size)
    if depth_noise_m > 0:
        depth = depth + np.random.default_rng(seed).normal(0.0, depth_noise_m, depth.shape) * (depth > 0)
    scene = ScenePackage(
        task_id=task_id,
        rgb=rgb,
        depth_m=depth.astype(np.float32),
        camera=camera,
        prompt=prompt,
        source="synthetic",
    )
    return SyntheticScene(
        scene=scene,
        object_ids=best_id.reshape(size, size),
        names=names,
        table_height=table_height,
        shapes=list(shapes),
    )


def _box_hit(origin: np.ndarray, dirs: np.ndarray, box: Box, table_height: float):
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    to_local = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    centre = np.array([box.centre_xy[0], box.centre_xy[1], table_height + box.z_bottom + box.size[2] / 2])
    o = to_local @ (origin - centre)
    d = dirs @ to_local.T
    half = np.asarray(box.size) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half - o) / d
        t2 = (half - o) / d
    t_near = np.where(np.isnan(t1), -np.inf, np.minimum(t1, t2))
    t_far = np.where(np.isnan(t1), np.inf, np.maximum(t1, t2))
    entry = t_near.max(axis=1)
    exit_ = t_far.min(axis=1)
    hit = (entry <= exit_) & (entry > 0)
    axis = t_near.argmax(axis=1)
    normal_local = np.zeros_like(d)
    normal_local[np.arange(len(d)), axis] = -np.sign(d[np.arange(len(d)), axis])
    return np.where(hit, entry, np.inf), normal_local @ to_local


def _cylinder_hit(origin: np.ndarray, dirs: np.ndarray, cyl: Cylinder, table_height: float):
    cx, cy = cyl.centre_xy
    z0 = table_height + cyl.z_bottom
    z1 = z0 + cyl.height
    ox, oy = origin[0] - cx, origin[1] - cy
    a = dirs[:, 0] ** 2 + dirs[:, 1] ** 2
    b = 2 * (ox * dirs[:, 0] + oy * dirs[:, 1])
    cterm = ox**2 + oy**2 - cyl.radius**2
    disc = b**2 - 4 * a * cterm
    with np.errstate(invalid="ignore", divide="ignore"):
        t_side = (-b - np.sqrt(disc)) / (2 * a)
    z_side = origin[2] + t_side * dirs[:, 2]
    side_ok = (disc >= 0) & (t_side > 0) & (z_side >= z0) & (z_side <= z1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_top = (z1 - origin[2]) / dirs[:, 2]
    px = ox + t_top * dirs[:, 0]
    py = oy + t_top * dirs[:, 1]
    top_ok = (t_top > 0) & (px**2 + py**2 <= cyl.radius**2)
    t = np.full(len(dirs), np.inf)
    normal = np.zeros_like(dirs)
    t[side_ok] = t_side[side_ok]
    hit_xy = np.stack([ox + t_side * dirs[:, 0], oy + t_side * dirs[:, 1]], 1) / cyl.radius
    normal[side_ok, :2] = hit_xy[side_ok]
    use_top = top_ok & (t_top < t)
    t[use_top] = t_top[use_top]
    normal[use_top] = [0.0, 0.0, 1.0]
    return t, normal


RED = (205, 35, 40)
BLUE = (40, 70, 200)
GREEN = (40, 160, 70)
GREY = (150, 150, 155)
YELLOW = (225, 200, 40)


def default_shapes(bin_rgb: tuple[int, int, int] = GREY, box_rgb: tuple[int, int, int] = BLUE) -> list:
    """Red can on the right, blue box in the middle (in the way), bin on the left."""
    return [
        Cylinder("can", (-0.03, -0.15), radius=0.033, height=0.12, rgb=RED),
        Box("box", (0.0, 0.0), (0.06, 0.085, 0.07), rgb=box_rgb, yaw=0.4),
        *bin_parts("bin", (0.05, 0.15), rgb=bin_rgb),
    ]


def default_scene(prompt: str = "put the red can in the bin", **kwargs) -> SyntheticScene:
    return render(default_shapes(), prompt=prompt, **kwargs)
