"""The procedural backend's renderer: the scene re-rendered with the target moved by a rigid transform.

Once: the target's back-projected pixels are resampled into a dense surface (grazing sides span few pixels but
much surface, :func:`~physworld_core.video.surfaces.densified_surface`), the unseen back side is added as a mirror image of the visible side
(bridged to it at the silhouette, :func:`~physworld_core.video.surfaces.mirrored_back`) so the object does not look hollow when it turns or
crosses the image, and the background is made by filling the target's pixels from the surrounding table
(:func:`~physworld_core.video.surfaces.background_without`). A skill may cut parts out of the target that move on their own (what a cup
holds) or add some that were never part of it (the scraps a brush sweeps), and close the target's unseen side
its own way (:meth:`~physworld_core.video.skill.SkillVideo.split_contents`, ``add_unseen``). Per frame:
1. move the points by the frame's rigid transform and project them;
2. splat them into a z-buffer (splats grow when the object comes nearer the camera), close pinholes and
   pixels where a back point shows through a gap in the front surface;
3. composite over the background wherever the object is nearer than the background depth, so nearer scenery
   (the container's front wall) hides it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from physworld_core.perception.perceive import Perception
from physworld_core.scene import ScenePackage
from physworld_core.video.config import ProceduralVideoConfig
from physworld_core.video.skill import video_of
from physworld_core.video.surfaces import background_without, densified_surface


class SplatRenderer:
    """Re-renders the scene with the target moved by a rigid transform (see the module docstring)."""

    def __init__(self, scene: ScenePackage, perception: Perception, config: ProceduralVideoConfig) -> None:
        self.scene = scene
        self.config = config
        camera = scene.camera
        self.cam_to_world = camera.extrinsic
        self.camera_position = self.cam_to_world[:3, 3]
        target = perception.target
        # Scale drift (realism) grows or shrinks the object about the middle of its height above its footprint.
        self.scale_centre = (
            np.asarray(target.centre_world) + 0.5 * target.top_height * perception.plane.normal_array
        )
        skill = video_of(perception.instruction.skill)
        parts = skill.split_contents(scene, perception, target)
        target = parts.target
        self.contents_points, self.contents_colours = parts.contents_points, parts.contents_colours
        self.contents_labels, self.extra_hole = parts.contents_labels, parts.extra_hole
        points, colours = densified_surface(scene, target)
        points, colours = skill.add_unseen(scene, perception, target, points, colours, config)
        self.points = points
        self.colours = colours
        self.rest_depth = self._to_camera(points)[:, 2]
        self.contents_rest_depth = self._to_camera(self.contents_points)[:, 2]
        # Neighbouring pixels of one (convex-ish) object differ in depth by less than a fraction of its width.
        self.see_through_gap = max(0.01, 0.25 * min(target.extents[0], target.extents[1]))
        self.background_rgb, self.background_depth = background_without(
            scene, perception, config.fill_iterations, also=self.extra_hole
        )

    def _to_camera(self, points_world: np.ndarray) -> np.ndarray:
        return (points_world - self.camera_position) @ self.cam_to_world[:3, :3]

    def _moved(self, transform_world: np.ndarray, scale: float) -> np.ndarray:
        points = (
            self.points if scale == 1.0 else self.scale_centre + scale * (self.points - self.scale_centre)
        )
        return points @ transform_world[:3, :3].T + transform_world[:3, 3]

    def image_box(
        self, transform_world: np.ndarray, scale: float = 1.0
    ) -> tuple[float, float, float, float] | None:
        """(row_min, row_max, col_min, col_max) the moved target spans in the image (None: behind the camera)."""
        points_cam = self._to_camera(self._moved(transform_world, scale))
        points_cam = points_cam[points_cam[:, 2] > 1e-3]
        if len(points_cam) == 0:
            return None
        uv = self.scene.camera.project(points_cam)
        return float(uv[:, 1].min()), float(uv[:, 1].max()), float(uv[:, 0].min()), float(uv[:, 0].max())

    def render(
        self,
        transform_world: np.ndarray,
        scale: float = 1.0,
        contents_transforms: np.ndarray | None = None,
    ) -> np.ndarray:
        """One frame with the target's points scaled by ``scale`` about its centre, then moved by
        ``transform_world`` (4×4).

        A poured vessel's contents (seen inside it) move with it, or, given ``contents_transforms`` (B×4×4,
        one per clump: :class:`ContentsMotion`), each clump by its own transform."""
        height, width = self.scene.height, self.scene.width
        camera = self.scene.camera
        moved = self._moved(transform_world, scale)
        colours, rest_depth = self.colours, self.rest_depth
        if len(self.contents_points):
            if contents_transforms is None:
                contents = self.contents_points
                if scale != 1.0:
                    contents = self.scale_centre + scale * (contents - self.scale_centre)
                contents = contents @ transform_world[:3, :3].T + transform_world[:3, 3]
            else:
                per_point = np.asarray(contents_transforms)[self.contents_labels]
                contents = np.einsum("nij,nj->ni", per_point[:, :3, :3], self.contents_points)
                contents = contents + per_point[:, :3, 3]
            moved = np.concatenate([moved, contents])
            colours = np.concatenate([colours, self.contents_colours])
            rest_depth = np.concatenate([rest_depth, self.contents_rest_depth])
        points_cam = self._to_camera(moved)
        depth = points_cam[:, 2]
        in_front = depth > 1e-3
        points_cam, depth, colours = points_cam[in_front], depth[in_front], colours[in_front]
        if len(depth) == 0:
            return self.background_rgb.copy()
        uv = camera.project(points_cam)
        cols, rows = np.floor(uv[:, 0]).astype(np.int64), np.floor(uv[:, 1]).astype(np.int64)

        # Splat size: the object covers ~1 point per pixel at rest; nearer the camera its points spread out.
        magnification = float(np.percentile(rest_depth[in_front] / depth, 90)) * max(scale, 1.0)
        side = max(self.config.splat_size, int(np.ceil(self.config.splat_size * magnification - 0.25)))
        offsets = np.arange(side) - (side - 1) // 2
        d_rows, d_cols = np.meshgrid(offsets, offsets, indexing="ij")
        rows = (rows[:, None] + d_rows.reshape(1, -1)).reshape(-1)
        cols = (cols[:, None] + d_cols.reshape(1, -1)).reshape(-1)
        depth = np.repeat(depth, side * side)
        colours = np.repeat(colours, side * side, axis=0)
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        flat, depth, colours = rows[inside] * width + cols[inside], depth[inside], colours[inside]

        # Z-buffer: per pixel keep the nearest point.
        order = np.lexsort((depth, flat))
        first = np.unique(flat[order], return_index=True)[1]
        nearest = order[first]
        object_depth = np.full(height * width, np.inf)
        object_rgb = np.zeros((height * width, 3), dtype=np.uint8)
        object_depth[flat[nearest]] = depth[nearest]
        object_rgb[flat[nearest]] = colours[nearest]
        object_depth = object_depth.reshape(height, width)
        object_rgb = object_rgb.reshape(height, width, 3)

        # Pinholes between splats: pixels enclosed by the object's coverage take the nearest covered value.
        # A pinhole through which a back-side point shows counts too: it is far behind its neighbours.
        covered = np.isfinite(object_depth)
        closed = ndimage.binary_closing(np.pad(covered, 2), structure=np.ones((3, 3), bool))[2:-2, 2:-2]
        nearest_around = ndimage.minimum_filter(object_depth, size=3, mode="constant", cval=np.inf)
        see_through = covered & (object_depth > nearest_around + self.see_through_gap)
        holes = (closed & ~covered) | see_through
        if holes.any():
            sources = covered & ~see_through
            _, (near_rows, near_cols) = ndimage.distance_transform_edt(~sources, return_indices=True)
            object_depth[holes] = object_depth[near_rows[holes], near_cols[holes]]
            object_rgb[holes] = object_rgb[near_rows[holes], near_cols[holes]]

        visible = object_depth <= self.background_depth + 0.003  # the object wins ties with what it rests on
        frame = self.background_rgb.copy()
        frame[visible] = object_rgb[visible]
        return frame
