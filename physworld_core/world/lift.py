"""Family "lift": pick an object up and hold it at a stated height, where it stood or above the bin.

**Task Description:**
A Panda must pick the named object (a can or a box) up from the table and hold it, without letting go, with
its underside at the height the prompt states: above the table where it stood ("lift the can 12 cm"), or above
the rim of an open-top bin, over the bin ("raise the can 6 cm above the bin"). A distractor object of another
colour stands elsewhere on the table. The scene is the bin family's world of the same seed.

**Randomizations (all from the world seed):**
- the scene, as the bin family's: target, distractor and bin shapes, sizes, colours, poses and hidden physics;
- whether the object is held where it stood or over the bin (half the worlds each);
- the height, a whole number of centimetres: 6–15 above the table, or 4–10 above the bin's rim;
- per trial (episode seed): a few millimetres of reset jitter of the movable objects.

**Success Conditions:**
- the target is held by the gripper with its lowest point within :data:`HEIGHT_TOLERANCE_M` of the stated
  height (above the table, or above the bin's rim) and, over the bin, its centre inside the bin's inner
  footprint (in the bin frame, 5 mm margin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mani_skill.utils.registration import register_env

from physworld_core.world import bin as bin_family
from physworld_core.world.layout import Record, colour_noun, phrase
from physworld_core.world.registry import WorldFamily, register_family
from physworld_core.world.scripted import (
    CLOSED,
    Move,
    Script,
    actor_pose,
    carry_to,
    down_rotation,
    grasp_from_above,
    lift_to,
)

ENV_ID = "PhysWorld-Lift-v0"
HEIGHT_TOLERANCE_M = 0.025
"""The target's lowest point counts as at the stated height within this, above or below."""
IN_PLACE_CM = (6, 15)
"""Range (inclusive) of heights above the table, for a lift where the object stood."""
OVER_BIN_CM = (4, 10)
"""Range (inclusive) of heights above the bin's rim: low enough to reach, high enough to clear the rim."""
_IN_PLACE = (
    "lift the {obj} {cm} cm",
    "raise the {obj} {cm} cm off the table",
    "pick the {obj} up {cm} cm",
)
_OVER_BIN = (
    "raise the {obj} {cm} cm above the {bin}",
    "hold the {obj} {cm} cm over the {bin}",
    "lift the {obj} {cm} cm above the {bin}",
)


@dataclass(frozen=True)
class LiftLayout(Record):
    """The bin family's scene of the same seed, and the lift asked in it: ``height_cm`` above the table, or
    above the bin's rim when ``over_bin``."""

    seed: int
    target: bin_family.ObjectTruth
    distractor: bin_family.ObjectTruth
    bin: bin_family.BinTruth
    height_cm: int
    over_bin: bool
    phrasing: int

    @property
    def level_z(self) -> float:
        """The stated height of the target's lowest point (world z; the table's top is z = 0)."""
        base = self.bin.wall_height if self.over_bin else 0.0
        return base + self.height_cm / 100


def sample_layout(seed: int) -> LiftLayout:
    """The bin world of ``seed``, and a lift drawn from a generator of its own, so the scene stays the bin
    world's whatever the lift draws."""
    scene = bin_family.sample_layout(seed)
    rng = np.random.default_rng([seed, 1])
    over_bin = bool(rng.random() < 0.5)
    low, high = OVER_BIN_CM if over_bin else IN_PLACE_CM
    height_cm = int(rng.integers(low, high + 1))
    return LiftLayout(
        seed=seed,
        target=scene.target,
        distractor=scene.distractor,
        bin=scene.bin,
        height_cm=height_cm,
        over_bin=over_bin,
        phrasing=int(rng.integers(len(_OVER_BIN if over_bin else _IN_PLACE))),
    )


def prompt_for(layout: LiftLayout, phrasing: int | None = None) -> str:
    phrasings = _OVER_BIN if layout.over_bin else _IN_PLACE
    return phrase(
        phrasings,
        layout,
        phrasing,
        obj=colour_noun(layout.target),
        cm=str(layout.height_cm),
        bin=layout.bin.noun,
    )


@register_env(ENV_ID, max_episode_steps=200)
class LiftWorldEnv(bin_family.BinWorldEnv):
    __doc__ = __doc__
    sample_layout = staticmethod(sample_layout)

    def goal_actor(self):
        """The bin when the object is to be held over it; a lift where the object stood has no goal object."""
        return self.bin if self.layout.over_bin else None

    def evaluate(self):
        p = self.target_object.pose.p[0].cpu().numpy()
        at_height = abs(self.target_bottom_z() - self.layout.level_z) <= HEIGHT_TOLERANCE_M
        over = self.goal_contains_xy(p[:2], margin=0.005) if self.layout.over_bin else True
        grasped = self.is_grasping_target()
        inside = at_height and over
        return self._evaluation(success=inside and grasped, inside=inside, grasped=grasped)


def oracle(env: LiftWorldEnv):
    """Top-down grasp across the target's narrow side (as the bin family's oracle), straight up to the height,
    over the bin's centre when asked, and hold."""
    layout = env.layout
    t = layout.target
    hx, hy, hz = t.half_size
    R = down_rotation(t.yaw + (np.pi / 2 if hx > hy else 0.0))  # close across the narrow side of a box
    # Fingertips 3 cm below the top (the palm must stay clear of a tall can), never below the centre.
    grip_above_centre = max(0.0, hz - 0.03)
    grasp = lambda: actor_pose(env.target_object)[0] + [0, 0, grip_above_centre]
    centre_z = layout.level_z + hz  # the target's centre when its underside is at the stated height
    end_xy = np.asarray(layout.bin.xy if layout.over_bin else t.xy, dtype=np.float64)
    return Script(
        env,
        [
            *grasp_from_above(env, grasp, R, approach=0.08, tol=0.005),
            lift_to(env, centre_z + grip_above_centre, R, tol=0.01),
            Move(
                carry_to(env, env.target_object, [*end_xy, centre_z]),
                R,
                gripper=CLOSED,
                tol=0.004,
                follow=True,
            ),
        ],
    )


FAMILY = register_family(
    WorldFamily(
        name="lift",
        env_id=ENV_ID,
        sample_layout=sample_layout,
        prompt_for=prompt_for,
        num_phrasings=min(len(_IN_PLACE), len(_OVER_BIN)),
        oracle=oracle,
    )
)
