"""Family "bin": put an object in the bin.

**Task Description:**
A Panda must pick the named object (a can or a box) up from the table and drop it into an open-top bin.
A distractor object of another colour stands elsewhere on the table.

**Randomizations (all from the world seed):**
- target shape (upright cylinder "can" or box "box"/"block"), size, colour, yaw, position;
- distractor shape, size, colour (never the target's colour name), position;
- bin inner size, wall height and thickness, colour, yaw, position (left or right of the target);
- true density (150–1000 kg/m³, so mass follows volume) and friction (0.5–1.2) of every object;
- per trial (episode seed): a few millimetres of reset jitter of the movable objects.

**Success Conditions:**
- the target's centre lies inside the bin's inner footprint (in the bin frame, 5 mm margin) and below its
  rim, and the target is no longer held by the gripper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sapien
from mani_skill.utils.registration import register_env

from physworld_core.world.base import WorldEnv
from physworld_core.world.layout import (
    Record,
    colour_noun,
    phrase,
    placed_at,
    rejection_sample,
    separated,
    to_local_xy,
)
from physworld_core.world.palette import CONTAINER_PALETTE, PALETTE, jitter_colour
from physworld_core.world.registry import WorldFamily, register_family
from physworld_core.world.scripted import actor_pose, pick_and_place
from physworld_core.world.shapes import (
    UPRIGHT_CYLINDER,
    add_open_box,
    build_actor,
    cylinder_rim_points,
    material,
    pose_on_table,
)

ENV_ID = "PhysWorld-Bin-v0"
_NOUNS = {"cylinder": ("can", "soda can", "tin can"), "box": ("box", "block", "carton")}
_CONTAINER_NOUNS = ("bin", "trash bin", "basket", "container")
_PHRASINGS = (
    "put the {obj} in the {bin}",
    "drop the {obj} into the {bin}",
    "place the {obj} inside the {bin}",
    "pick up the {obj} and put it in the {bin}",
)


@dataclass(frozen=True)
class ObjectTruth:
    """A movable object: shape ("cylinder" | "box"), size, pose, appearance and hidden physics."""

    shape: str
    half_size: tuple[float, float, float]  # cylinder: (radius, radius, half_height)
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    density: float
    friction: float
    noun: str

    @property
    def mass(self) -> float:
        hx, hy, hz = self.half_size
        volume = np.pi * hx * hx * 2 * hz if self.shape == "cylinder" else 8 * hx * hy * hz
        return float(self.density * volume)

    @property
    def footprint_radius(self) -> float:
        return float(np.hypot(self.half_size[0], self.half_size[1]))


@dataclass(frozen=True)
class BinTruth:
    inner_half: tuple[float, float]
    wall_height: float
    wall_thickness: float
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    noun: str

    @property
    def footprint_radius(self) -> float:
        return float(np.hypot(*self.inner_half) + self.wall_thickness)


@dataclass(frozen=True)
class BinLayout(Record):
    seed: int
    target: ObjectTruth
    distractor: ObjectTruth
    bin: BinTruth
    phrasing: int


def _sample_object(rng: np.random.Generator, shape: str, colour_name: str) -> ObjectTruth:
    if shape == "cylinder":
        r = rng.uniform(0.022, 0.032)
        half = (r, r, rng.uniform(0.03, 0.06))
    else:
        half = (rng.uniform(0.018, 0.03), rng.uniform(0.018, 0.03), rng.uniform(0.025, 0.05))
    return ObjectTruth(
        shape=shape,
        half_size=tuple(float(v) for v in half),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=colour_name,
        rgba=tuple(jitter_colour(PALETTE[colour_name], rng)),
        density=float(rng.uniform(150, 1000)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_NOUNS[shape])),
    )


def sample_layout(seed: int) -> BinLayout:
    """Draw a world from its seed; rejection-samples positions so nothing overlaps and all is reachable."""
    rng = np.random.default_rng(seed)
    colours = rng.permutation(list(PALETTE))
    target = _sample_object(rng, str(rng.choice(["cylinder", "box"])), str(colours[0]))
    distractor = _sample_object(rng, str(rng.choice(["cylinder", "box"])), str(colours[1]))
    bin_colour = str(rng.choice(list(CONTAINER_PALETTE)))
    bin_truth = BinTruth(
        inner_half=(float(rng.uniform(0.065, 0.09)), float(rng.uniform(0.065, 0.09))),
        wall_height=float(rng.uniform(0.05, 0.085)),
        wall_thickness=float(rng.uniform(0.008, 0.012)),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-0.5, 0.5)),
        colour_name=bin_colour,
        rgba=tuple(jitter_colour(CONTAINER_PALETTE[bin_colour], rng, 0.04)),
        noun=str(rng.choice(_CONTAINER_NOUNS)),
    )
    side = rng.choice([-1.0, 1.0])

    def draw():
        bin_xy = (rng.uniform(-0.08, 0.1), side * rng.uniform(0.13, 0.22))
        target_xy = (rng.uniform(-0.1, 0.12), -side * rng.uniform(0.0, 0.18))
        distractor_xy = (rng.uniform(-0.12, 0.14), rng.uniform(-0.25, 0.25))
        placed = [
            (bin_xy, bin_truth.footprint_radius),
            (target_xy, target.footprint_radius),
            (distractor_xy, distractor.footprint_radius),
        ]
        return (bin_xy, target_xy, distractor_xy) if separated(placed, 0.04) else None

    bin_xy, target_xy, distractor_xy = rejection_sample(
        draw, 1000, f"bin world seed {seed}: could not place objects without overlap"
    )
    return BinLayout(
        seed=seed,
        target=placed_at(target, target_xy),
        distractor=placed_at(distractor, distractor_xy),
        bin=placed_at(bin_truth, bin_xy),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def prompt_for(layout: BinLayout, phrasing: int | None = None) -> str:
    return phrase(_PHRASINGS, layout, phrasing, obj=colour_noun(layout.target), bin=layout.bin.noun)


def _primitive_points(obj: ObjectTruth) -> np.ndarray:
    """Points spanning a primitive in its actor frame (centred, z up): box corners or cylinder rims."""
    hx, hy, hz = obj.half_size
    if obj.shape == "cylinder":
        return cylinder_rim_points(hx, -hz, hz, 32)
    return np.array([[x, y, z] for x in (-hx, hx) for y in (-hy, hy) for z in (-hz, hz)])


def _build_object(scene, obj: ObjectTruth, name: str):
    builder = scene.create_actor_builder()
    render_mat = sapien.render.RenderMaterial(base_color=list(obj.rgba))
    hx, hy, hz = obj.half_size
    if obj.shape == "cylinder":
        pose = sapien.Pose(q=UPRIGHT_CYLINDER)
        builder.add_cylinder_collision(
            pose=pose, radius=hx, half_length=hz, material=material(obj.friction), density=obj.density
        )
        builder.add_cylinder_visual(pose=pose, radius=hx, half_length=hz, material=render_mat)
    else:
        builder.add_box_collision(
            half_size=[hx, hy, hz], material=material(obj.friction), density=obj.density
        )
        builder.add_box_visual(half_size=[hx, hy, hz], material=render_mat)
    builder.initial_pose = pose_on_table(obj.xy, hz, obj.yaw)
    return build_actor(builder, name)


def _build_bin(scene, b: BinTruth, name: str = "bin"):
    """Kinematic open box; the floor is as thick as the walls."""
    builder = scene.create_actor_builder()
    add_open_box(
        builder, b.inner_half, b.wall_thickness, b.wall_height, b.wall_thickness, material(0.6), b.rgba
    )
    builder.initial_pose = pose_on_table(b.xy, 0.0, b.yaw)
    return build_actor(builder, name, kinematic=True)


@register_env(ENV_ID, max_episode_steps=200)
class BinWorldEnv(WorldEnv):
    __doc__ = __doc__
    sample_layout = staticmethod(sample_layout)
    MASSES = ("target", "distractor")

    def _build_world(self) -> None:
        self.target_object = _build_object(self.scene, self.layout.target, "target")
        self.distractor = _build_object(self.scene, self.layout.distractor, "distractor")
        self.bin = _build_bin(self.scene, self.layout.bin)

    def _place_objects(self, env_idx) -> None:
        for actor, obj in (
            (self.target_object, self.layout.target),
            (self.distractor, self.layout.distractor),
        ):
            self._place_jittered(actor, obj.xy, obj.half_size[2], obj.yaw)

    def goal_contains_xy(self, xy, margin: float = 0.0) -> bool:
        """Is a table point inside the bin's inner footprint (shrunk by ``margin``)?"""
        b = self.layout.bin
        local = to_local_xy(np.asarray(xy, dtype=np.float64)[:2], b.xy, b.yaw)
        return bool(np.all(np.abs(local) <= np.asarray(b.inner_half) - margin))

    def goal_actor(self):
        return self.bin

    def evaluate(self):
        p = self.target_object.pose.p[0].cpu().numpy()
        footprint = self.goal_contains_xy(p[:2], margin=0.005)
        inside = footprint and self.target_bottom_z() < self.layout.bin.wall_height
        grasped = self.is_grasping_target()
        return self._evaluation(success=inside and not grasped, inside=inside, grasped=grasped)

    def target_points_local(self) -> np.ndarray:
        return _primitive_points(self.layout.target)


def oracle(env: BinWorldEnv):
    """Top-down grasp across the target's narrow side, carry over the bin's centre, release above the floor."""
    t, b = env.layout.target, env.layout.bin
    hx, hy, hz = t.half_size
    yaw = t.yaw + (np.pi / 2 if hx > hy else 0.0)  # close across the narrow side of a box
    # Fingertips 3 cm below the top (the palm must stay clear of a tall can), never below the centre.
    centre = lambda: actor_pose(env.target_object)[0] + [0, 0, max(0.0, hz - 0.03)]
    release = np.array([b.xy[0], b.xy[1], b.wall_height + hz + 0.02])
    return pick_and_place(env, centre, yaw, release)


FAMILY = register_family(
    WorldFamily(
        name="bin",
        env_id=ENV_ID,
        sample_layout=sample_layout,
        prompt_for=prompt_for,
        num_phrasings=len(_PHRASINGS),
        oracle=oracle,
    )
)
