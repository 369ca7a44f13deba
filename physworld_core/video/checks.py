"""Cheap sanity checks on a generated video, given the scene it was generated from.

They catch what makes a video useless downstream, whatever backend made it: too few frames, blank frames
(a decoder or a diffusion model gone wrong), the target vanishing, the target never moving, the target not
ending at the goal, and another object moved instead of (or as well as) the target — the video decides what
moves, and it must be what the prompt named. How a video shows a skill done is the skill's own test
(:meth:`~physworld_core.video.skill.SkillVideo.ends_in_goal`): by default the target ends over the goal; a
bottle stood up where it lay, a cup tipped over a bowl or scraps swept into a dustpan are judged in the skills'
folders. The checks look only at pixels and the scene's own perception (never at the backend's plan), so they
judge a learned backend the same way as the procedural one.

The target is followed by colour: pixels close to its mean colour in the input image, and nearer one of its own
colours there than any colour of the rest of the image (see ``perception.exemplars``). Pixels that match in
*every* frame are static scenery of a similar colour and are ignored, and so are pixels that look as they did in
the first frame outside the target's own mask: a table whose colour is near the target's (yellow on orange
wood, a two-tone book whose pages widen the tolerance) is covered for a moment where the object passes, and
would otherwise drag the blob back along the path. What remains is the moving object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from physworld_core.perception.exemplars import ColourModel
from physworld_core.perception.perceive import Perception, perceive
from physworld_core.scene import ScenePackage
from physworld_core.video.skill import ColourTrack, video_of


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
        max_other_change: the share of another object's pixels (neither the target's nor the goal's) that may
            look different in the last frame than in the first — the target ending in front of it, a shadow —
            before the video counts as having moved that object.
        skill: the thresholds of the skill's own test, of its type
            (:attr:`~physworld_core.video.skill.SkillVideo.check_config_type`); ``None``: its defaults.
    """

    min_frames: int = 24
    blank_std: float = 2.0
    min_target_pixels: int = 6
    min_visible_fraction: float = 0.8
    min_displacement_fraction: float = 0.04
    goal_margin: float = 0.15
    change_threshold: float = 20.0
    max_other_change: float = 0.3
    skill: Any = None

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
        if not 0 < self.max_other_change <= 1:
            raise ValueError(f"max_other_change must lie in (0, 1], got {self.max_other_change}")


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
    ``target_ends_in_goal``, ``others_still`` (no object but the target and the goal moved), ``others_changed``
    (the largest share of such an object's pixels changed by the end) and ``moved_object`` (its index in the
    perception, -1 when none moved), ``passed``, and the figures of the skill's own test (see the skill's
    ``video.py``: the upright skill's ``target_ends_upright``, the pour skill's ``target_pours``, the sweep
    skill's ``target_sweeps``, and the numbers behind them).

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
    skill = video_of(perception.instruction.skill)
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
        results.update(_others_still(frames, perception, config))
    else:
        results.update(
            target_visible_fraction=0.0,
            target_visible=False,
            target_displacement_px=0.0,
            target_moves=False,
            target_ends_in_goal=False,
        )
        results.update(skill.not_done())
        results.update(others_still=False, others_changed=0.0, moved_object=-1)
    results["passed"] = all(
        bool(results[key])
        for key in (
            "frame_count_ok",
            "size_ok",
            "no_blank_frames",
            "target_visible",
            "target_moves",
            "target_ends_in_goal",
            "others_still",
        )
    )
    return results


def _others_still(frames: np.ndarray, perception: Perception, config: VideoCheckConfig) -> dict:
    """Whether every object but the target and the goal looks at the end as it did at the start (its own pixels,
    less those the target's colour covers in the last frame: the target may end in front of it)."""
    target, goal = perception.target, perception.goal
    last, first = frames[-1].astype(np.float32), frames[0].astype(np.float32)
    changed = np.linalg.norm(last - first, axis=-1) > config.change_threshold
    target_rgb = np.asarray(target.mean_rgb, dtype=np.float32)
    covered = np.linalg.norm(last - target_rgb, axis=-1) < np.linalg.norm(first - target_rgb, axis=-1)
    worst, moved = 0.0, -1
    for other in perception.objects:
        if other.index == target.index or (goal is not None and other.index == goal.index):
            continue
        share = float((changed & ~covered & other.mask).sum() / max(int(other.mask.sum()), 1))
        if share > worst:
            worst = share
            moved = other.index if share > config.max_other_change else -1
    return {"others_still": moved == -1, "others_changed": round(worst, 3), "moved_object": moved}


def _track_target_colour(
    frames: np.ndarray, scene: ScenePackage, perception: Perception, config: VideoCheckConfig
) -> dict[str, bool | float]:
    skill = video_of(perception.instruction.skill)
    skill_config = skill.skill_config(config)
    target = perception.target
    own = skill.own_pixels(perception)
    target_colours = scene.rgb[own].astype(np.float32)
    mean = target_colours.mean(axis=0)
    spread = np.linalg.norm(target_colours - mean, axis=1)
    tolerance = float(np.clip(1.5 * np.percentile(spread, 80), 25.0, 70.0))

    matches = np.linalg.norm(frames.astype(np.float32) - mean, axis=-1) < tolerance
    # ... and nearer one of its own colours than any other colour of the input image. A tolerance wide enough
    # for a shaded or two-tone object can take in the whole table (an orange block on orange wood): then the
    # wood left where the object stood matches in every frame, and the object is lost there.
    likeness = ColourModel(scene.rgb, own, np.random.default_rng(0), max_distance=np.inf)
    matches &= np.stack([likeness.mask(frame) for frame in frames])
    changed = np.linalg.norm(frames.astype(np.float32) - frames[0].astype(np.float32), axis=-1)
    changed = changed > config.change_threshold
    moving = matches & ~np.all(matches, axis=0, keepdims=True) & (changed | target.mask)
    moving, extra = skill.blobs(frames, scene, perception, moving)
    counts = moving.reshape(len(frames), -1).sum(axis=1)
    visible = counts >= config.min_target_pixels
    rows, cols = np.mgrid[0 : frames.shape[1], 0 : frames.shape[2]]
    centroids = np.full((len(frames), 2), np.nan)
    for index in np.nonzero(visible)[0]:
        blob = moving[index]
        centroids[index] = rows[blob].mean(), cols[blob].mean()

    displacement = 0.0
    ends_in_goal = False
    figures: dict[str, bool | float] = skill.not_done()
    if visible.any():
        seen = centroids[visible]
        displacement = float(np.max(np.linalg.norm(seen - seen[0], axis=1)))
        track = ColourTrack(
            frames, scene, perception, config, skill_config, moving, matches, visible, own, mean, extra
        )
        figures, ends_in_goal = skill.ends_in_goal(track)
    diagonal = float(np.hypot(frames.shape[1], frames.shape[2]))
    return {
        "target_visible_fraction": float(visible.mean()),
        "target_visible": bool(visible.mean() >= config.min_visible_fraction),
        "target_displacement_px": displacement,
        "target_moves": bool(
            displacement >= max(3.0, config.min_displacement_fraction * diagonal)
            or skill.moves_in_place(figures, skill_config)
        ),
        "target_ends_in_goal": bool(ends_in_goal),
        **figures,
    }
