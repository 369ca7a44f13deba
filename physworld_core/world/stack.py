"""Family "stack": stack one block on another.

**Task Description:**
A Panda must pick the named small block (a rounded box or a round cylinder) up from the table and set it down
on top of a larger, heavy base block (also a rounded box or a drum) of another colour, then let go.
A distractor block of a third colour stands elsewhere on the table.

**Randomizations (all from the world seed):**
- shape of every object (rounded box with random corner radius, or faceted cylinder), its size, colour,
  yaw and position; the base block is wider and denser than the block to stack, so it is movable but heavy
  (0.2–1.6 kg) and barely moves when touched;
- true density (top and distractor 150–1000 kg/m³, base 1200–3000 kg/m³) and friction (0.5–1.2) of every
  object, so masses follow volumes;
- per trial (episode seed): a few millimetres of reset jitter of every object.

**Success Conditions:**
- the block's centre lies over the base's top face (in the base frame, 5 mm margin), its lowest point is
  within 1 cm of the base's top, the base still stands on the table, and the gripper has let go.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import trimesh
from mani_skill.utils.registration import register_env
from transforms3d.quaternions import quat2mat

from physworld_core.sim.base_env import actor_points_world
from physworld_core.world.base import WorldEnv
from physworld_core.world.layout import Record, discs_apart, phrase, rejection_sample, sample_in_workspace
from physworld_core.world.palette import PALETTE, jitter_colour
from physworld_core.world.registry import WorldFamily, register_family
from physworld_core.world.scripted import actor_pose, pick_and_place
from physworld_core.world.shapes import build_convex_actor, chamfered_cylinder, pose_on_table, rounded_box

ENV_ID = "PhysWorld-Stack-v0"
_TOP_NOUNS = {"box": ("block", "cube", "brick"), "cylinder": ("cylinder", "block", "puck")}
_BASE_NOUNS = {"box": ("block", "box", "base"), "cylinder": ("drum", "cylinder", "platform")}
_PHRASINGS = (
    "put the {obj} on the {base}",
    "stack the {obj} on top of the {base}",
    "place the {obj} onto the {base}",
    "pick up the {obj} and set it down on the {base}",
)


@dataclass(frozen=True)
class BlockTruth:
    """A procedural block: shape ("box" = rounded box, "cylinder" = faceted drum), size, pose, looks, physics.

    ``extents`` are the full bounding-box sizes (x, y, z) in the block's frame, which is centred on it."""

    shape: str
    extents: tuple[float, float, float]
    corner: float  # box: vertical edge radius; cylinder: chamfer of the rims
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    density: float
    friction: float
    noun: str

    @property
    def footprint_radius(self) -> float:
        return float(np.hypot(self.extents[0], self.extents[1]) / 2)

    @property
    def name(self) -> str:
        return f"{self.colour_name} {self.noun}"

    @property
    def mass(self) -> float:
        return float(self.density * block_mesh(self).volume)


@dataclass(frozen=True)
class StackLayout(Record):
    seed: int
    top: BlockTruth
    base: BlockTruth
    distractor: BlockTruth
    phrasing: int


def block_mesh(block: BlockTruth) -> trimesh.Trimesh:
    return _block_mesh(block.shape, block.extents, block.corner)


@lru_cache(maxsize=64)
def _block_mesh(shape: str, extents: tuple[float, float, float], corner: float) -> trimesh.Trimesh:
    """The block's mesh, centred on its bounding box, z up. Both shapes are convex (one collision hull)."""
    ex, _ey, ez = extents
    if shape == "box":
        return rounded_box(extents, corner)
    return chamfered_cylinder(ex / 2, ez, min(corner, 0.3 * ez, 0.3 * ex / 2), sections=24)


def _sample_block(
    rng: np.random.Generator, colour_name: str, nouns: dict, width: tuple, height: tuple, density: tuple
) -> BlockTruth:
    shape = str(rng.choice(["box", "box", "cylinder"]))
    if shape == "box":
        ex, ey = rng.uniform(*width, 2)
        corner = rng.uniform(0.002, 0.3 * min(ex, ey))
    else:
        ex = ey = rng.uniform(*width)
        corner = rng.uniform(0.001, 0.004)
    return BlockTruth(
        shape=shape,
        extents=(float(ex), float(ey), float(rng.uniform(*height))),
        corner=float(corner),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=colour_name,
        rgba=tuple(jitter_colour(PALETTE[colour_name], rng)),
        density=float(rng.uniform(*density)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(nouns[shape])),
    )


def _sample_xy(rng: np.random.Generator, radius: float) -> tuple[float, float]:
    return tuple(map(float, sample_in_workspace(rng, radius)))


def sample_layout(seed: int) -> StackLayout:
    """Draw a world from its seed; rejection-samples positions so nothing overlaps, all is reachable and
    the fingers have room around the block to stack."""
    rng = np.random.default_rng(seed)
    colours = [str(c) for c in rng.permutation(list(PALETTE))]
    top = _sample_block(rng, colours[0], _TOP_NOUNS, (0.03, 0.05), (0.03, 0.055), (150, 1000))
    base = _sample_block(rng, colours[1], _BASE_NOUNS, (0.075, 0.11), (0.025, 0.06), (1200, 3000))
    distractor = _sample_block(rng, colours[2], _TOP_NOUNS, (0.03, 0.055), (0.03, 0.07), (150, 1000))

    def draw():
        top_xy, base_xy, distractor_xy = (
            _sample_xy(rng, top.footprint_radius),
            _sample_xy(rng, base.footprint_radius),
            _sample_xy(rng, distractor.footprint_radius),
        )
        gaps = [
            (top_xy, top.footprint_radius, base_xy, base.footprint_radius, 0.06),
            (top_xy, top.footprint_radius, distractor_xy, distractor.footprint_radius, 0.06),
            (base_xy, base.footprint_radius, distractor_xy, distractor.footprint_radius, 0.05),
        ]
        return (top_xy, base_xy, distractor_xy) if all(discs_apart(*gap) for gap in gaps) else None

    top_xy, base_xy, distractor_xy = rejection_sample(
        draw, 1000, f"stack world seed {seed}: could not place objects without overlap"
    )
    return StackLayout(
        seed=seed,
        top=replace(top, xy=top_xy),
        base=replace(base, xy=base_xy),
        distractor=replace(distractor, xy=distractor_xy),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def prompt_for(layout: StackLayout, phrasing: int | None = None) -> str:
    return phrase(_PHRASINGS, layout, phrasing, obj=layout.top.name, base=layout.base.name)


@register_env(ENV_ID, max_episode_steps=200)
class StackWorldEnv(WorldEnv):
    __doc__ = __doc__
    sample_layout = staticmethod(sample_layout)
    MASSES = ("top", "base", "distractor")

    def _blocks(self):
        return (
            (self.target_object, self.layout.top),
            (self.base, self.layout.base),
            (self.distractor, self.layout.distractor),
        )

    def _build_world(self) -> None:
        made = {}
        for name, block in (
            ("target", self.layout.top),
            ("base", self.layout.base),
            ("distractor", self.layout.distractor),
        ):
            pose = pose_on_table(block.xy, block.extents[2] / 2, block.yaw)
            made[name] = build_convex_actor(
                self.scene, name, block_mesh(block), block.rgba, block.friction, pose, block.density
            )
        self.target_object, self.base, self.distractor = made["target"], made["base"], made["distractor"]

    def _place_objects(self, env_idx) -> None:
        for actor, block in self._blocks():
            self._place_jittered(actor, block.xy, block.extents[2] / 2, block.yaw)

    def base_top_z(self) -> float:
        return float(actor_points_world(self.base, _points(self.layout.base))[:, 2].max())

    def over_base(self, xy, margin: float = 0.0) -> bool:
        """Is a world point above the base's top face (shrunk by ``margin``), in the base's live frame?"""
        raw = self.base.pose.raw_pose[0].cpu().numpy().astype(np.float64)
        R = quat2mat(raw[3:])
        local = R.T @ (np.array([xy[0], xy[1], raw[2]]) - raw[:3])
        b = self.layout.base
        if b.shape == "cylinder":
            return bool(np.hypot(local[0], local[1]) <= b.extents[0] / 2 - margin)
        return bool(np.all(np.abs(local[:2]) <= np.asarray(b.extents[:2]) / 2 - margin))

    def goal_actor(self):
        return self.base

    def evaluate(self):
        top_points = actor_points_world(self.target_object, _points(self.layout.top))
        centre = 0.5 * (top_points.min(0) + top_points.max(0))
        base_bottom = float(actor_points_world(self.base, _points(self.layout.base))[:, 2].min())
        base_on_table = base_bottom < 0.005
        on_base = (
            self.over_base(centre[:2], margin=0.005)
            and abs(top_points[:, 2].min() - self.base_top_z()) < 0.01
        )
        grasped = self.is_grasping_target()
        return self._evaluation(
            success=on_base and base_on_table and not grasped,
            on_base=on_base,
            base_on_table=base_on_table,
            grasped=grasped,
        )

    def target_points_local(self) -> np.ndarray:
        return _points(self.layout.top)


def _points(block: BlockTruth) -> np.ndarray:
    return np.asarray(block_mesh(block).vertices)


def oracle(env: StackWorldEnv):
    """Top-down grasp across the block's narrow side, carry it over the base's centre, lower it until it
    almost touches the base's top, release."""
    t = env.layout.top
    ex, ey, ez = t.extents
    yaw = t.yaw + (np.pi / 2 if t.shape == "box" and ex > ey else 0.0)  # close across the narrow side
    above_centre = max(0.0, ez / 2 - 0.025)  # fingertips no deeper than 2.5 cm below the top
    grasp = lambda: actor_pose(env.target_object)[0] + [0, 0, above_centre]
    place = lambda: np.r_[actor_pose(env.base)[0][:2], env.base_top_z() + ez / 2 + above_centre + 0.008]
    return pick_and_place(env, grasp, yaw, place)


FAMILY = register_family(
    WorldFamily(
        name="stack",
        env_id=ENV_ID,
        sample_layout=sample_layout,
        prompt_for=prompt_for,
        num_phrasings=len(_PHRASINGS),
        oracle=oracle,
    )
)
