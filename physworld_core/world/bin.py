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

from dataclasses import asdict, dataclass

import numpy as np
import sapien
import torch
from mani_skill.utils.registration import register_env
from mani_skill.utils.structs.pose import Pose
from transforms3d.euler import euler2quat

from physworld_core.sim.base_env import TabletopEnv
from physworld_core.world.palette import CONTAINER_PALETTE, PALETTE, jitter_colour
from physworld_core.world.registry import WorldFamily, register_family

ENV_ID = "PhysWorld-Bin-v0"
_UPRIGHT_CYLINDER = euler2quat(0, np.pi / 2, 0)  # SAPIEN cylinders lie along x; stand them up along z.
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
class BinLayout:
    seed: int
    target: ObjectTruth
    distractor: ObjectTruth
    bin: BinTruth
    phrasing: int

    def to_dict(self) -> dict:
        return asdict(self)


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
    for _ in range(1000):
        bin_xy = (rng.uniform(-0.08, 0.1), side * rng.uniform(0.13, 0.22))
        target_xy = (rng.uniform(-0.1, 0.12), -side * rng.uniform(0.0, 0.18))
        distractor_xy = (rng.uniform(-0.12, 0.14), rng.uniform(-0.25, 0.25))
        placed = [
            (bin_xy, bin_truth.footprint_radius),
            (target_xy, target.footprint_radius),
            (distractor_xy, distractor.footprint_radius),
        ]
        if all(
            np.hypot(a[0][0] - b[0][0], a[0][1] - b[0][1]) > a[1] + b[1] + 0.04
            for i, a in enumerate(placed)
            for b in placed[i + 1 :]
        ):
            break
    else:  # pragma: no cover - the ranges above always admit a layout
        raise RuntimeError(f"bin world seed {seed}: could not place objects without overlap")
    from dataclasses import replace

    return BinLayout(
        seed=seed,
        target=replace(target, xy=tuple(map(float, target_xy))),
        distractor=replace(distractor, xy=tuple(map(float, distractor_xy))),
        bin=replace(bin_truth, xy=tuple(map(float, bin_xy))),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def prompt_for(layout: BinLayout, phrasing: int | None = None) -> str:
    template = _PHRASINGS[layout.phrasing if phrasing is None else phrasing % len(_PHRASINGS)]
    return template.format(obj=f"{layout.target.colour_name} {layout.target.noun}", bin=layout.bin.noun)


def _primitive_points(obj: ObjectTruth) -> np.ndarray:
    """Points spanning a primitive in its actor frame (centred, z up): box corners or cylinder rims."""
    hx, hy, hz = obj.half_size
    if obj.shape == "cylinder":
        angles = np.linspace(0, 2 * np.pi, 32, endpoint=False)
        ring = np.column_stack([hx * np.cos(angles), hx * np.sin(angles)])
        return np.vstack([np.column_stack([ring, np.full(32, z)]) for z in (-hz, hz)])
    return np.array([[x, y, z] for x in (-hx, hx) for y in (-hy, hy) for z in (-hz, hz)])


def _material(friction: float) -> sapien.physx.PhysxMaterial:
    return sapien.physx.PhysxMaterial(static_friction=friction, dynamic_friction=friction, restitution=0.0)


def _build_object(scene, obj: ObjectTruth, name: str):
    builder = scene.create_actor_builder()
    render_mat = sapien.render.RenderMaterial(base_color=list(obj.rgba))
    hx, hy, hz = obj.half_size
    if obj.shape == "cylinder":
        pose = sapien.Pose(q=_UPRIGHT_CYLINDER)
        builder.add_cylinder_collision(
            pose=pose, radius=hx, half_length=hz, material=_material(obj.friction), density=obj.density
        )
        builder.add_cylinder_visual(pose=pose, radius=hx, half_length=hz, material=render_mat)
    else:
        builder.add_box_collision(
            half_size=[hx, hy, hz], material=_material(obj.friction), density=obj.density
        )
        builder.add_box_visual(half_size=[hx, hy, hz], material=render_mat)
    builder.initial_pose = sapien.Pose(p=[obj.xy[0], obj.xy[1], hz], q=euler2quat(0, 0, obj.yaw))
    return builder.build(name=name)


def _build_bin(scene, b: BinTruth, name: str = "bin"):
    builder = scene.create_actor_builder()
    render_mat = sapien.render.RenderMaterial(base_color=list(b.rgba))
    ix, iy = b.inner_half
    t, h = b.wall_thickness, b.wall_height
    parts = [
        ([0, 0, t / 2], [ix + t, iy + t, t / 2]),  # floor
        ([ix + t / 2, 0, h / 2], [t / 2, iy + t, h / 2]),
        ([-(ix + t / 2), 0, h / 2], [t / 2, iy + t, h / 2]),
        ([0, iy + t / 2, h / 2], [ix, t / 2, h / 2]),
        ([0, -(iy + t / 2), h / 2], [ix, t / 2, h / 2]),
    ]
    for p, half in parts:
        builder.add_box_collision(pose=sapien.Pose(p=p), half_size=half, material=_material(0.6))
        builder.add_box_visual(pose=sapien.Pose(p=p), half_size=half, material=render_mat)
    builder.initial_pose = sapien.Pose(p=[b.xy[0], b.xy[1], 0.0], q=euler2quat(0, 0, b.yaw))
    return builder.build_kinematic(name=name)


@register_env(ENV_ID, max_episode_steps=200)
class BinWorldEnv(TabletopEnv):
    __doc__ = __doc__

    def __init__(self, *args, world_seed: int = 0, reset_jitter_m: float = 0.003, **kwargs):
        self.layout = sample_layout(world_seed)
        self.reset_jitter_m = reset_jitter_m
        super().__init__(*args, **kwargs)

    def _build_objects(self) -> None:
        from mani_skill.utils.scene_builder.table import TableSceneBuilder

        self.table_scene = TableSceneBuilder(self, robot_init_qpos_noise=0.0)
        self.table_scene.build()
        self.target_object = _build_object(self.scene, self.layout.target, "target")
        self.distractor = _build_object(self.scene, self.layout.distractor, "distractor")
        self.bin = _build_bin(self.scene, self.layout.bin)

    def _place_objects(self, env_idx: torch.Tensor) -> None:
        rng = self._batched_episode_rng[0] if self._batched_episode_rng is not None else np.random
        for actor, obj in (
            (self.target_object, self.layout.target),
            (self.distractor, self.layout.distractor),
        ):
            dx, dy = rng.normal(0.0, self.reset_jitter_m, 2) if self.reset_jitter_m > 0 else (0.0, 0.0)
            p = torch.tensor([[obj.xy[0] + dx, obj.xy[1] + dy, obj.half_size[2]]], dtype=torch.float32)
            q = torch.tensor(np.asarray([euler2quat(0, 0, obj.yaw)]), dtype=torch.float32)
            actor.set_pose(Pose.create_from_pq(p, q))
            actor.set_linear_velocity(torch.zeros((1, 3)))
            actor.set_angular_velocity(torch.zeros((1, 3)))

    def goal_contains_xy(self, xy, margin: float = 0.0) -> bool:
        """Is a table point inside the bin's inner footprint (shrunk by ``margin``)?"""
        b = self.layout.bin
        c, s = np.cos(-b.yaw), np.sin(-b.yaw)
        dx, dy = xy[0] - b.xy[0], xy[1] - b.xy[1]
        local = np.array([c * dx - s * dy, s * dx + c * dy])
        return bool(np.all(np.abs(local) <= np.asarray(b.inner_half) - margin))

    def evaluate(self):
        p = self.target_object.pose.p[0].cpu().numpy()
        footprint = self.goal_contains_xy(p[:2], margin=0.005)
        inside = footprint and self.target_bottom_z() < self.layout.bin.wall_height
        grasped = bool(self.agent.is_grasping(self.target_object)[0])
        success = inside and not grasped
        return dict(
            success=torch.tensor([success]), inside=torch.tensor([inside]), grasped=torch.tensor([grasped])
        )

    def target_points_local(self) -> np.ndarray:
        return _primitive_points(self.layout.target)

    def truth(self) -> dict:
        """Hidden truth for scoring: layout with masses."""
        d = self.layout.to_dict()
        d["target"]["mass"] = self.layout.target.mass
        d["distractor"]["mass"] = self.layout.distractor.mass
        return d


def oracle(env: BinWorldEnv):
    """Top-down grasp across the target's narrow side, carry over the bin's centre, release above the floor."""
    from physworld_core.world.scripted import actor_pose, pick_and_place

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
