"""Realism knobs of the procedural backend: each does its thing, seeded, and the default video is unchanged."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
from scipy import ndimage

from physworld_core.video.backends import load
from physworld_core.video.checks import check_video
from physworld_core.video.procedural import ProceduralVideoConfig, generate
from physworld_core.video.realism import (
    REALISM_PRESETS,
    RealismConfig,
    apply_gain,
    draw_hand,
    sample_realism,
    shake_frame,
)

BOX_TOP_M = 0.07  # the blue box of the default scene; the bin's rim is at 9 cm


@pytest.fixture(scope="module")
def video_of(default_scene):
    """Generate (once per module) the default scene's video for a seed and realism settings."""
    cache = {}

    def make(realism=None, seed: int = 0):
        key = (json.dumps(realism, sort_keys=True) if isinstance(realism, dict) else realism, seed)
        if key not in cache:
            config = ProceduralVideoConfig(
                seed=seed, realism=realism if realism is not None else RealismConfig()
            )
            cache[key] = generate(default_scene.scene, config)
        return cache[key]

    return make


def _red_mask(frames: np.ndarray) -> np.ndarray:
    r, g, b = (frames[..., i].astype(float) for i in range(3))
    return (r > 40) & (r > 1.8 * g) & (r > 1.8 * b)


def _carried_frames(plan: dict) -> range:
    return range(plan["phases"]["lift"][0], plan["phases"]["lower"][1] + 1)


# --- config -------------------------------------------------------------------------------------------------


def test_defaults_are_off_and_leave_the_video_unchanged(generated, video_of):
    assert ProceduralVideoConfig().realism == RealismConfig() == REALISM_PRESETS["none"]
    assert not RealismConfig().enabled and REALISM_PRESETS["mild"].enabled
    assert ProceduralVideoConfig(realism="none") == ProceduralVideoConfig()
    explicit = video_of(RealismConfig())
    np.testing.assert_array_equal(explicit.frames, generated.frames)
    assert explicit.plan == generated.plan
    applied = generated.plan["realism"]
    assert not applied["enabled"] and not applied["through_obstacle"]
    assert applied["popped_frames"] == [] and applied["hand_frames"] == [] and applied["cut_through"] == []
    assert set(applied["scale_factors"]) == {1.0}
    assert np.all(np.asarray(applied["flicker_gains_rgb"]) == 1.0)
    assert np.all(np.asarray(applied["shake_dx_dy_deg"]) == 0.0)


def test_config_validation_names_the_bad_field():
    for field, value in [
        ("hand_occluder", -0.1),
        ("flicker", 0.9),
        ("scale_drift", float("nan")),
        ("shake_px", 11),
        ("shake_deg", "1"),
        ("through_obstacle", 1.5),
        ("pop_frames", 9),
        ("pop_frames", 1.5),
    ]:
        with pytest.raises(ValueError, match=field):
            RealismConfig(**{field: value})
        with pytest.raises(ValueError, match=f"realism.{field}"):
            ProceduralVideoConfig(realism={field: value})
    with pytest.raises(ValueError, match="realism preset 'extreme' is unknown; presets: none, mild, harsh"):
        ProceduralVideoConfig(realism="extreme")
    with pytest.raises(ValueError, match="realism has no setting.*wobble"):
        ProceduralVideoConfig(realism={"wobble": 1.0})
    with pytest.raises(ValueError, match="realism must be"):
        ProceduralVideoConfig(realism=3)
    assert RealismConfig(through_obstacle=True).through_obstacle == 1.0  # a bool is a probability of 0 or 1


def test_presets_load_by_name_and_config_round_trips():
    assert load("procedural", {"realism": "mild"}).config.realism == REALISM_PRESETS["mild"]
    assert load("procedural", {"realism": {"flicker": 0.05}}).config.realism == RealismConfig(flicker=0.05)
    config = ProceduralVideoConfig(seed=3, realism="harsh")
    stored = json.loads(json.dumps(asdict(config)))  # what plan["config"] holds
    assert ProceduralVideoConfig(**stored) == config
    assert load("procedural", stored).config == config


# --- each knob ----------------------------------------------------------------------------------------------


def test_popped_frames_have_no_object(generated, video_of):
    video = video_of({"pop_frames": 3})
    popped = video.plan["realism"]["popped_frames"]
    assert len(popped) == 3 and set(popped) <= set(_carried_frames(video.plan))
    red = _red_mask(video.frames).sum(axis=(1, 2))
    assert np.all(red[popped] == 0), red[popped]
    assert np.all(np.delete(red, popped) > 20)  # everywhere else the can is in view
    kept = np.setdiff1d(np.arange(video.num_frames), popped)
    np.testing.assert_array_equal(video.frames[kept], generated.frames[kept])  # popping changes nothing else


def test_flicker_changes_each_frames_brightness(generated, video_of):
    video = video_of({"flicker": 0.1})
    gains = np.asarray(video.plan["realism"]["flicker_gains_rgb"])
    np.testing.assert_array_equal(gains[0], 1.0)
    brightness = video.frames.reshape(video.num_frames, -1).mean(axis=1)
    plain = generated.frames.reshape(generated.num_frames, -1).mean(axis=1)
    ratio = brightness / plain
    assert ratio[0] == 1.0
    assert np.std(ratio[1:]) > 0.03
    assert abs(brightness[1] - brightness[0]) > 1.0  # frame 1 shows the same still scene, differently lit
    np.testing.assert_allclose(ratio[1:], gains[1:].mean(axis=1), atol=0.02)


def test_shake_moves_the_static_background(generated, video_of):
    video = video_of({"shake_px": 3.0, "shake_deg": 1.0})
    shake = np.asarray(video.plan["realism"]["shake_dx_dy_deg"])
    np.testing.assert_array_equal(shake[0], 0.0)
    assert np.all(np.abs(shake[1:, :2]) <= 3.0) and np.all(np.abs(shake[1:, 2]) <= 1.0)
    assert np.abs(shake[1:, :2]).max() > 1.0
    # Frames 0 and 1 both show the still scene: without shake they are identical, with shake they differ.
    np.testing.assert_array_equal(generated.frames[1], generated.frames[0])
    difference = np.abs(video.frames[1].astype(float) - video.frames[0].astype(float)).mean()
    assert difference > 1.0
    # The whole frame moved: the last frame's (still) scene differs from the unshaken one everywhere, not
    # only where the object is.
    still_background = ~ndimage.binary_dilation(_red_mask(generated.frames[-1:])[0], iterations=8)
    moved = np.abs(video.frames[-1].astype(float) - generated.frames[-1].astype(float)).sum(axis=-1)
    assert moved[still_background].mean() > 1.0


def test_shake_frame_moves_right_and_down_and_turns_counter_clockwise():
    image = np.zeros((21, 21, 3), dtype=np.uint8)
    image[10, 15] = 255  # 5 pixels right of the centre
    shifted = shake_frame(image, dx=2.0, dy=-3.0, angle_deg=0.0)
    assert np.unravel_index(shifted[..., 0].argmax(), (21, 21)) == (7, 17)
    turned = shake_frame(image, dx=0.0, dy=0.0, angle_deg=90.0)
    assert np.unravel_index(turned[..., 0].argmax(), (21, 21)) == (5, 10)  # now above the centre
    np.testing.assert_array_equal(shake_frame(image, 0.0, 0.0, 0.0), image)
    assert shake_frame(image, 1.0, 0.0, 0.0) is not image and image[10, 15, 0] == 255  # pure


def test_hand_covers_part_of_the_object_while_carried(generated, video_of):
    video = video_of({"hand_occluder": 1.0})
    applied = video.plan["realism"]
    carried = list(_carried_frames(video.plan))
    assert applied["hand_frames"] == carried
    skin = np.asarray(applied["hand"]["skin_rgb"], float)
    still = [i for i in range(video.num_frames) if i not in carried]
    np.testing.assert_array_equal(video.frames[still], generated.frames[still])
    covered_fraction = []
    for index in carried:
        changed = np.any(video.frames[index] != generated.frames[index], axis=-1)
        assert changed.sum() > 30, index
        colours = video.frames[index][changed].astype(float)
        shade = colours @ skin / (skin @ skin)  # every changed pixel is a shade of the skin colour
        assert np.all(np.abs(colours - shade[:, None] * skin).max(axis=1) < 3.0), index
        assert np.all((shade > 0.65) & (shade < 1.01)), index
        red_before = _red_mask(generated.frames[index : index + 1])[0]
        near_object = ndimage.binary_dilation(red_before, iterations=3)
        assert (changed & near_object).sum() > 10, index  # attached to the object
        covered_fraction.append((red_before & changed).sum() / red_before.sum())
    assert 0.05 < np.median(covered_fraction) < 0.8  # partly covered, still visible


@pytest.mark.parametrize("seed", [0, 2])  # seed 0 shrinks the can, seed 2 grows it
def test_scale_drift_changes_the_objects_area(generated, video_of, seed):
    plain = generated if seed == 0 else video_of(None, seed=seed)
    video = video_of({"scale_drift": 0.3}, seed=seed)
    factors = np.asarray(video.plan["realism"]["scale_factors"])
    assert factors[0] == 1.0 and 0.15 <= abs(factors[-1] - 1.0) <= 0.3
    assert np.all(np.diff(factors) * np.sign(factors[-1] - 1.0) >= 0)  # a slow, steady drift
    last_carried = video.plan["phases"]["carry"][1]
    area = _red_mask(video.frames[last_carried : last_carried + 1]).sum()
    plain_area = _red_mask(plain.frames[last_carried : last_carried + 1]).sum()
    assert area / plain_area == pytest.approx(factors[last_carried] ** 2, rel=0.1)
    for blob in _red_mask(video.frames):
        assert (ndimage.binary_fill_holes(blob) & ~blob).sum() <= 2  # still solid when grown


def test_path_through_an_obstacle_stays_low(generated, video_of, default_scene):
    assert generated.plan["carry_height_m"] >= 0.09 + 0.03 - 1e-3  # normally it clears the bin's rim
    video = video_of({"through_obstacle": 1.0})
    plan = video.plan
    assert plan["realism"]["through_obstacle"]
    assert plan["carry_height_m"] < BOX_TOP_M
    assert set(plan["realism"]["cut_through"]) == {"blue box", "grey container"}
    path = np.asarray(plan["target_centre_path_world"])
    carry = plan["phases"]["carry"]
    assert np.all(path[carry[0] : carry[1] + 1, 2] - default_scene.table_height < BOX_TOP_M)
    # It still ends in the bin.
    np.testing.assert_allclose(path[-1, :2], plan["goal_centre_world"][:2], atol=1e-6)


def test_through_obstacle_is_a_seeded_probability():
    decisions = [
        sample_realism(RealismConfig(through_obstacle=0.5), s, 32, 2).through_obstacle for s in range(20)
    ]
    assert 0 < sum(decisions) < 20
    assert decisions == [
        sample_realism(RealismConfig(through_obstacle=0.5), s, 32, 2).through_obstacle for s in range(20)
    ]


# --- seeding, frame 0, record -------------------------------------------------------------------------------


def test_same_seed_same_video_other_seed_other_video(video_of, default_scene):
    first = video_of("harsh", seed=0)
    again = generate(default_scene.scene, ProceduralVideoConfig(seed=0, realism="harsh"))
    other = video_of("harsh", seed=1)
    np.testing.assert_array_equal(first.frames, again.frames)
    assert first.plan == again.plan
    assert not np.array_equal(first.frames, other.frames)
    assert first.plan["realism"]["shake_dx_dy_deg"] != other.plan["realism"]["shake_dx_dy_deg"]


def test_knobs_draw_independent_streams():
    """Turning one knob on does not change another knob's samples."""
    alone = sample_realism(RealismConfig(shake_px=2.0), 5, 32, 2)
    together = sample_realism(
        RealismConfig(shake_px=2.0, flicker=0.1, pop_frames=2, scale_drift=0.1), 5, 32, 2
    )
    np.testing.assert_array_equal(alone.shake, together.shake)


@pytest.mark.parametrize("preset", ["mild", "harsh"])
def test_frame_zero_is_the_input_and_the_record_is_json(video_of, default_scene, preset):
    for seed in (0, 1):
        video = video_of(preset, seed=seed)
        np.testing.assert_array_equal(video.frames[0], default_scene.scene.rgb)
        applied = json.loads(json.dumps(video.plan))["realism"]
        assert applied["config"] == asdict(REALISM_PRESETS[preset])
        assert len(applied["popped_frames"]) == REALISM_PRESETS[preset].pop_frames
        assert len(applied["scale_factors"]) == video.num_frames
        assert np.asarray(applied["shake_dx_dy_deg"]).shape == (video.num_frames, 3)
        assert video.plan["config"]["realism"] == asdict(REALISM_PRESETS[preset])


def test_mild_video_still_passes_the_cheap_checks(video_of, default_scene):
    assert check_video(video_of("mild").frames, default_scene.scene)["passed"]


def test_post_effects_are_pure():
    frame = np.full((16, 16, 3), 100, dtype=np.uint8)
    brighter = apply_gain(frame, np.array([1.1, 1.0, 0.9]))
    assert brighter[0, 0].tolist() == [110, 100, 90] and frame[0, 0, 0] == 100
    with_hand = draw_hand(frame, (6.0, 12.0, 5.0, 11.0), 1.0, 0.0, 0.0, (224, 172, 140))
    assert (np.any(with_hand != frame, axis=-1)).sum() > 10 and np.all(frame == 100)
