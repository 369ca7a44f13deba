"""The lid world: valid layouts, a lid that fits the pot, and a success test that means "resting on the rim"."""

from __future__ import annotations

import numpy as np

from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
from physworld_core.world import get_family
from physworld_core.world.lid import sample_layout
from physworld_core.world.scripted import OPEN
from tests.world.helpers import put_at_rest, settle


def test_layouts_fit_the_workspace_and_never_overlap():
    for seed in range(40):
        layout = sample_layout(seed)
        lid, pot, d = layout.lid, layout.pot, layout.distractor
        assert lid.colour_name != d.colour_name
        assert pot.outer_radius < lid.radius < pot.outer_radius + 0.02  # rests on the rim, overhangs a little
        assert 2 * lid.knob_head < 0.06  # the gripper closes across the knob
        discs = [(lid.xy, lid.radius), (pot.xy, pot.footprint_radius), (d.xy, d.footprint_radius)]
        for i, (a, ra) in enumerate(discs):
            assert -0.15 <= a[0] - ra and a[0] + ra <= 0.17 and abs(a[1]) + ra <= 0.25
            for b, rb in discs[i + 1 :]:
                assert np.hypot(a[0] - b[0], a[1] - b[1]) > ra + rb


def test_prompts_name_the_lid_and_the_pot():
    family = get_family("lid")
    layout = sample_layout(4)
    for k in range(family.num_phrasings):
        prompt = family.prompt_for(layout, k)
        assert f"{layout.lid.colour_name} {layout.lid.noun}" in prompt and layout.pot.noun in prompt


def _put_lid(world, dx: float, tilt: float = 0.0, dz: float = 0.002):
    pot = world.layout.pot
    put_at_rest(world.target_object, [pot.xy[0] + dx, pot.xy[1], pot.height + dz], roll=tilt)


def test_success_means_resting_level_and_centred_on_the_rim():
    env = make_world_env(BenchmarkTask("lid", 3), control_mode="pd_ee_delta_pose")
    try:
        env.reset(seed=0)
        world = env.unwrapped
        truth = world.truth()
        assert truth["lid"]["mass"] > 0 and 0.5 <= truth["lid"]["friction"] <= 1.2
        assert not bool(settle(env, 3, OPEN)["success"][0])  # on the table beside the pot
        _put_lid(world, 0.004)
        info = settle(env, gripper=OPEN)
        assert bool(info["success"][0]), info
        # Far off the axis the lid drops into the pot on one side: tilted, not supported all round.
        _put_lid(world, world.layout.lid.radius - world.layout.pot.inner_radius + 0.012)
        assert not bool(settle(env, 25, OPEN)["success"][0])
    finally:
        env.close()
