"""Image-space helpers of the video checks (:mod:`.checks`) and of the skills' own checks: where world points
fall in the image, silhouettes of simple solids, and how alike two blobs are."""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from physworld_core.scene import ScenePackage


def project_pixels(scene: ScenePackage, points_world: np.ndarray) -> np.ndarray:
    """N×2 (row, col) image pixels of world points, clipped to the image."""
    camera = scene.camera
    points_cam = (np.asarray(points_world) - camera.extrinsic[:3, 3]) @ camera.extrinsic[:3, :3]
    uv = np.floor(camera.project(points_cam)).astype(np.int64)
    return np.clip(uv[:, ::-1], 0, [scene.height - 1, scene.width - 1])


def aligned_overlap(blob: np.ndarray, silhouette: np.ndarray) -> float:
    """IoU of ``blob`` with ``silhouette`` after moving the blob's pixels onto the silhouette's centroid and
    scaling them about it to the silhouette's area: how alike the two outlines are, wherever and however near
    the camera the blob is."""
    rows, cols = np.nonzero(blob)
    target_rows, target_cols = np.nonzero(silhouette)
    if len(rows) == 0 or len(target_rows) == 0:
        return 0.0
    scale = np.sqrt(len(target_rows) / len(rows))
    # Each blob pixel is spread over the pixels its scaled square covers, so a shrunk blob stays solid.
    offsets = (np.arange(max(1, int(np.ceil(scale)))) + 0.5) / max(1, int(np.ceil(scale))) - 0.5
    d_rows, d_cols = (g.reshape(-1) for g in np.meshgrid(offsets, offsets, indexing="ij"))
    new_rows = (rows[:, None] + d_rows - rows.mean()) * scale + target_rows.mean()
    new_cols = (cols[:, None] + d_cols - cols.mean()) * scale + target_cols.mean()
    moved = np.zeros_like(silhouette)
    inside = (new_rows >= 0) & (new_rows < blob.shape[0]) & (new_cols >= 0) & (new_cols < blob.shape[1])
    moved[new_rows[inside].astype(int), new_cols[inside].astype(int)] = True
    return iou(moved, silhouette)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return float((a & b).sum() / union) if union else 0.0


def cylinder_silhouette(
    scene: ScenePackage,
    foot: np.ndarray,
    up: np.ndarray,
    radius: float,
    length: float,
    across: np.ndarray | None = None,
) -> np.ndarray:
    """H×W bool: the image of a closed vertical cylinder standing on ``foot`` (convex); its rings are drawn
    from the direction ``across`` (any horizontal unit vector, by default world x on the plane)."""
    if across is None:
        across = np.cross(np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0]), up)
    e1 = np.asarray(across, dtype=np.float64) / np.linalg.norm(across)
    e2 = np.cross(up, e1)
    angles = np.linspace(0.0, 2.0 * np.pi, 48, endpoint=False)
    ring = radius * (np.cos(angles)[:, None] * e1 + np.sin(angles)[:, None] * e2)
    points = np.concatenate([foot + ring, foot + ring + length * up])
    camera = scene.camera
    cam_to_world = camera.extrinsic
    points_cam = (points - cam_to_world[:3, 3]) @ cam_to_world[:3, :3]
    mask = np.zeros((scene.height, scene.width), dtype=bool)
    if np.any(points_cam[:, 2] <= 1e-3):
        return mask  # the camera is inside or behind it: no silhouette to compare with
    uv = camera.project(points_cam)
    try:
        hull = ConvexHull(uv)
    except QhullError:
        return mask
    cols, rows = np.meshgrid(np.arange(scene.width) + 0.5, np.arange(scene.height) + 0.5)
    centres = np.stack([cols.reshape(-1), rows.reshape(-1)], axis=1)
    inside = np.all(centres @ hull.equations[:, :2].T + hull.equations[:, 2] <= 0, axis=1)
    return inside.reshape(scene.height, scene.width)
