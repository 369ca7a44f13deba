"""Surfaces the procedural renderer draws: the target's seen surface made dense, its unseen back, and the
background with the target taken out (see :mod:`.splat`). Used by the renderer and by the skills that add or
cut out surfaces of their own."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from physworld_core.perception.perceive import Perception
from physworld_core.perception.segment import SceneObject
from physworld_core.scene import ScenePackage


def densified_surface(scene: ScenePackage, target: SceneObject) -> tuple[np.ndarray, np.ndarray]:
    """The target's surface as points dense enough to re-render from a nearer or different viewpoint.

    One point per pixel is enough only for the view it was taken from: a side seen at a grazing angle spans
    few pixels but much surface, and shows as a comb of gaps once the object turns or moves across the image.
    Every 2×2 block of object pixels whose 3D corners are close (one surface, no depth jump) is resampled
    bilinearly, with more samples the longer its 3D edges are compared with one pixel's footprint.
    """
    camera = scene.camera
    height_px, width_px = target.mask.shape
    grid = np.full((height_px, width_px, 3), np.nan)
    grid[target.pixels[:, 0], target.pixels[:, 1]] = target.points_world
    colour_grid = scene.rgb.astype(np.float64)
    points = [np.asarray(target.points_world)]
    colours = [scene.rgb[target.pixels[:, 0], target.pixels[:, 1]].astype(np.float64)]

    corners = [grid[:-1, :-1], grid[:-1, 1:], grid[1:, :-1], grid[1:, 1:]]
    corner_colours = [colour_grid[:-1, :-1], colour_grid[:-1, 1:], colour_grid[1:, :-1], colour_grid[1:, 1:]]
    complete = np.all([np.isfinite(c[..., 0]) for c in corners], axis=0)
    if complete.any():
        quad = [c[complete] for c in corners]
        quad_colours = [c[complete] for c in corner_colours]
        edges = np.stack(
            [np.linalg.norm(quad[a] - quad[b], axis=1) for a, b in ((0, 1), (0, 2), (1, 3), (2, 3))], axis=1
        )
        footprint = quad[0] @ camera.extrinsic[:3, 2] - camera.extrinsic[:3, 3] @ camera.extrinsic[:3, 2]
        footprint = np.abs(footprint) / min(camera.fx, camera.fy)  # metres per pixel at the quad's depth
        longest = edges.max(axis=1) / np.maximum(footprint, 1e-9)
        one_surface = longest < 12.0  # a longer edge is a depth jump inside the mask, not a surface
        samples_per_side = np.clip(np.ceil(1.5 * longest), 2, 8).astype(int)
        for count in np.unique(samples_per_side[one_surface]):
            chosen = one_surface & (samples_per_side == count)
            steps = (np.arange(count) + 0.5) / count
            a, b = (g.reshape(-1) for g in np.meshgrid(steps, steps, indexing="ij"))
            weights = np.stack([(1 - a) * (1 - b), (1 - a) * b, a * (1 - b), a * b], axis=1)  # per sample
            for corner_values, out in ((quad, points), (quad_colours, colours)):
                stacked = np.stack([c[chosen] for c in corner_values], axis=1)  # Q×4×3
                out.append(np.einsum("sk,qkd->qsd", weights, stacked).reshape(-1, 3))
    all_colours = np.clip(np.round(np.concatenate(colours)), 0, 255).astype(np.uint8)
    return np.concatenate(points), all_colours


def mirrored_back(
    points: np.ndarray,
    colours: np.ndarray,
    scene_rgb: np.ndarray,
    target: SceneObject,
    perception: Perception,
    camera_position: np.ndarray,
    metres_per_pixel: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The unseen back side: the visible side mirrored about the object's vertical axis, plus bridges.

    The mirror plane contains the vertical axis through the footprint centre and faces the camera: exact for
    cylinders, close for boxes. Only the sides are mirrored (the top is fully visible already and a doubled
    top would speckle in the z-buffer).

    Near the silhouette a single view misses a band of surface (the last pixel column hits the object well
    inside its outline), which opens as a see-through slit once the object moves across the image. Each
    silhouette point of the side is therefore joined to its mirror image by a straight bridge of points: the
    chord runs just inside the true surface of a round object and along the unseen side face of a box.
    """
    plane = perception.plane
    up = plane.normal_array
    centre = np.asarray(target.centre_world)
    view = centre - camera_position
    view -= (view @ up) * up
    norm = np.linalg.norm(view)
    if norm < 1e-6:  # camera straight above: the back side is never seen
        return np.empty((0, 3)), np.empty((0, 3), dtype=np.uint8)
    view /= norm
    side_limit = target.top_height - max(0.005, 0.05 * target.top_height)

    towards = (points - centre) @ view
    front = (plane.signed_height(points) < side_limit) & (towards < 0)
    mirrored = points[front] - 2.0 * towards[front, None] * view[None, :]
    back_colours = colours[front]

    outline = target.mask & ~ndimage.binary_erosion(target.mask)
    on_outline = outline[target.pixels[:, 0], target.pixels[:, 1]]
    rim = np.asarray(target.points_world)[on_outline]
    rim_colours = scene_rgb[target.pixels[on_outline, 0], target.pixels[on_outline, 1]]
    rim_towards = (rim - centre) @ view
    keep = (plane.signed_height(rim) < side_limit) & (rim_towards < 0)
    rim, rim_colours, rim_towards = rim[keep], rim_colours[keep], rim_towards[keep]
    counts = np.clip(np.ceil(2.0 * np.abs(rim_towards) / metres_per_pixel), 1, 64).astype(int)
    owner = np.repeat(np.arange(len(rim)), counts)
    fraction = (np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts) + 0.5) / counts[owner]
    bridges = rim[owner] - (2.0 * fraction * rim_towards[owner])[:, None] * view[None, :]
    return np.concatenate([mirrored, bridges]), np.concatenate([back_colours, rim_colours[owner]])


def background_without(
    scene: ScenePackage, perception: Perception, fill_iterations: int, also: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The image and depth with the target (and the pixels of ``also``: things that move apart from it, such
    as the scraps a brush sweeps) removed: its pixels become table.

    Colour: nearest visible table pixel (via the distance transform's indices), then a few rounds of
    diffusion restricted to table pixels to soften the streaks nearest-neighbour filling leaves. Depth: the
    table plane along each pixel's ray, so the moving object is z-tested against the table it uncovered.
    """
    target = perception.target
    height_px, width_px = scene.height, scene.width
    also = np.zeros((height_px, width_px), dtype=bool) if also is None else also
    others = np.zeros((height_px, width_px), dtype=bool)
    for obj in perception.objects:
        if obj.index != target.index:
            others |= obj.mask
    others &= ~also
    # Dilate: the object's last few millimetres above the table were below the segmentation margin.
    hole = ndimage.binary_dilation(target.mask, iterations=2) & ~others
    hole |= ndimage.binary_dilation(also, iterations=1) & ~others
    table = (scene.depth_m > 0) & ~hole & ~others
    for obj in perception.objects:
        table &= ~obj.mask
    if not table.any():
        table = ~hole
    rgb = scene.rgb.astype(np.float64)
    _, (near_rows, near_cols) = ndimage.distance_transform_edt(~table, return_indices=True)
    rgb[hole] = rgb[near_rows[hole], near_cols[hole]]
    weight = (table | hole).astype(np.float64)
    for _ in range(fill_iterations):
        summed = ndimage.uniform_filter(rgb * weight[..., None], size=(3, 3, 1), mode="nearest")
        counts = ndimage.uniform_filter(weight, size=3, mode="nearest")
        rgb[hole] = summed[hole] / np.maximum(counts[hole], 1e-9)[:, None]
    background_rgb = np.clip(np.round(rgb), 0, 255).astype(np.uint8)

    camera = scene.camera
    rows, cols = np.nonzero(hole)
    rays_cam = np.stack(
        [(cols + 0.5 - camera.cx) / camera.fx, (rows + 0.5 - camera.cy) / camera.fy, np.ones(len(rows))], 1
    )
    cam_to_world = camera.extrinsic
    t = perception.plane.intersect_rays(
        np.broadcast_to(cam_to_world[:3, 3], rays_cam.shape), rays_cam @ cam_to_world[:3, :3].T
    )
    background_depth = np.where(scene.depth_m > 0, scene.depth_m, np.inf).astype(np.float64)
    background_depth[rows, cols] = t  # rays have unit z in the camera, so t is the z-depth
    return background_rgb, background_depth
