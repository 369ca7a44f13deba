"""Cheap sanity checks on a generated video, given the scene it was generated from.

They catch what makes a video useless downstream, whatever backend made it: too few frames, blank frames
(a decoder or a diffusion model gone wrong), the target vanishing, the target never moving, the target not
ending at the goal. They look only at pixels and the scene's own perception (never at the backend's plan),
so they judge a learned backend the same way as the procedural one.

The target is followed by colour: pixels close to its mean colour in the input image. Pixels that match in
*every* frame are static scenery of a similar colour and are ignored, and so are pixels that look as they did in
the first frame outside the target's own mask: a table whose colour is near the target's (yellow on orange
wood, a two-tone book whose pages widen the tolerance) is covered for a moment where the object passes, and
would otherwise drag the blob back along the path. What remains is the moving object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physworld_core.perception.perceive import Perception, perceive
from physworld_core.scene import ScenePackage


@dataclass(frozen=True)
class VideoCheckConfig:
    """Thresholds of :func:`check_video`.

    Args:
        min_frames: fewest frames a usable video has.
        blank_std: a frame whose pixel standard deviation (0–255) is below this is blank.
        min_target_pixels: the target counts as visible in a frame with at least this many matching pixels.
        min_visible_fraction: the target must be visible in at least this share of frames (it may dip
            behind the container's wall at the very end).
        min_displacement_fraction: the target's colour blob must move at least this fraction of the image
            diagonal (and at least 3 pixels).
        goal_margin: the bottom-centre of the target's final blob may lie this fraction of the goal's image
            box outside it.
        change_threshold: RGB distance (0–441) from the first frame above which a pixel has changed.
    """

    min_frames: int = 24
    blank_std: float = 2.0
    min_target_pixels: int = 6
    min_visible_fraction: float = 0.8
    min_displacement_fraction: float = 0.04
    goal_margin: float = 0.15
    change_threshold: float = 20.0

    def __post_init__(self) -> None:
        if self.min_frames < 1:
            raise ValueError(f"min_frames must be positive, got {self.min_frames}")
        if self.blank_std < 0:
            raise ValueError(f"blank_std must be non-negative, got {self.blank_std}")
        if self.min_target_pixels < 1:
            raise ValueError(f"min_target_pixels must be positive, got {self.min_target_pixels}")
        if not 0 < self.min_visible_fraction <= 1:
            raise ValueError(f"min_visible_fraction must lie in (0, 1], got {self.min_visible_fraction}")
        if not 0 <= self.min_displacement_fraction < 1:
            raise ValueError(
                f"min_displacement_fraction must lie in [0, 1), got {self.min_displacement_fraction}"
            )
        if not 0 <= self.goal_margin <= 1:
            raise ValueError(f"goal_margin must lie in [0, 1], got {self.goal_margin}")
        if not 0 < self.change_threshold < 441:
            raise ValueError(f"change_threshold must lie in (0, 441), got {self.change_threshold}")


def check_video(
    frames: np.ndarray,
    scene: ScenePackage,
    *,
    perception: Perception | None = None,
    config: VideoCheckConfig | None = None,
) -> dict[str, bool | int | float]:
    """Run every check; returns named booleans (``*_ok``-style facts and ``passed``) and the numbers behind them.

    Keys: ``num_frames``, ``frame_count_ok``, ``size_ok``, ``blank_frames``, ``no_blank_frames``,
    ``target_visible_fraction``, ``target_visible``, ``target_displacement_px``, ``target_moves``,
    ``target_ends_in_goal``, ``passed``.

    Args:
        frames: T×H×W×3 uint8 video.
        scene: the scene it was generated from (its image gives the target's colour).
        perception: the scene's perception if already computed (else it is run here).
        config: thresholds.
    """
    config = config or VideoCheckConfig()
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"check_video expects T×H×W×3 frames, got shape {frames.shape}")
    perception = perception or perceive(scene)
    num_frames = int(frames.shape[0])
    size_ok = frames.shape[1:3] == (scene.height, scene.width)

    stds = frames.reshape(num_frames, -1).astype(np.float32).std(axis=1)
    blank_frames = int((stds < config.blank_std).sum())

    results: dict[str, bool | int | float] = {
        "num_frames": num_frames,
        "frame_count_ok": num_frames >= config.min_frames,
        "size_ok": bool(size_ok),
        "blank_frames": blank_frames,
        "no_blank_frames": blank_frames == 0,
    }
    if size_ok and num_frames > 0:
        results.update(_track_target_colour(frames, scene, perception, config))
    else:
        results.update(
            target_visible_fraction=0.0,
            target_visible=False,
            target_displacement_px=0.0,
            target_moves=False,
            target_ends_in_goal=False,
        )
    results["passed"] = all(
        bool(results[key])
        for key in (
            "frame_count_ok",
            "size_ok",
            "no_blank_frames",
            "target_visible",
            "target_moves",
            "target_ends_in_goal",
        )
    )
    return results


def _track_target_colour(
    frames: np.ndarray, scene: ScenePackage, perception: Perception, config: VideoCheckConfig
) -> dict[str, bool | float]:
    target, goal = perception.target, perception.goal
    target_colours = scene.rgb[target.mask].astype(np.float32)
    mean = target_colours.mean(axis=0)
    spread = np.linalg.norm(target_colours - mean, axis=1)
    tolerance = float(np.clip(1.5 * np.percentile(spread, 80), 25.0, 70.0))

    matches = np.linalg.norm(frames.astype(np.float32) - mean, axis=-1) < tolerance
    changed = np.linalg.norm(frames.astype(np.float32) - frames[0].astype(np.float32), axis=-1)
    changed = changed > config.change_threshold
    moving = matches & ~np.all(matches, axis=0, keepdims=True) & (changed | target.mask)
    counts = moving.reshape(len(frames), -1).sum(axis=1)
    visible = counts >= config.min_target_pixels
    rows, cols = np.mgrid[0 : frames.shape[1], 0 : frames.shape[2]]
    centroids = np.full((len(frames), 2), np.nan)
    for index in np.nonzero(visible)[0]:
        blob = moving[index]
        centroids[index] = rows[blob].mean(), cols[blob].mean()

    displacement = 0.0
    ends_in_goal = False
    if visible.any():
        seen = centroids[visible]
        displacement = float(np.max(np.linalg.norm(seen - seen[0], axis=1)))
        goal_rows, goal_cols = np.nonzero(goal.mask)
        top, bottom = goal_rows.min(), goal_rows.max() + 1
        left, right = goal_cols.min(), goal_cols.max() + 1
        pad_rows, pad_cols = config.goal_margin * (bottom - top), config.goal_margin * (right - left)
        # Where the target rests is the bottom of its blob (a can in a bin sticks out above the rim; one put
        # on a box stands above the box's image region): test the blob's bottom-centre. Only pixels that did
        # not already match in the first frame count: on a table of the object's own colour (an orange shoe on
        # wood) the table it uncovered along the way would drag the blob back along the path. Nor do pixels of
        # its own first-frame mask: what shows there at the end is the table the video filled in where it stood
        # (a book's off-white page edge, filled with wood, matches an orange cover).
        last = np.nonzero(visible)[0][-1]
        last_blob = moving[last] & ~matches[0] & ~target.mask
        if last_blob.sum() < config.min_target_pixels:
            last_blob = moving[last]  # it ends about where it began
        final_row, final_col = float(np.percentile(rows[last_blob], 95)), float(cols[last_blob].mean())
        ends_in_goal = bool(
            top - pad_rows <= final_row <= bottom + pad_rows
            and left - pad_cols <= final_col <= right + pad_cols
        )
    diagonal = float(np.hypot(frames.shape[1], frames.shape[2]))
    return {
        "target_visible_fraction": float(visible.mean()),
        "target_visible": bool(visible.mean() >= config.min_visible_fraction),
        "target_displacement_px": displacement,
        "target_moves": bool(displacement >= max(3.0, config.min_displacement_fraction * diagonal)),
        "target_ends_in_goal": ends_in_goal,
    }
