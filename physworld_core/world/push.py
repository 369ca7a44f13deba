"""Family "push": push an object onto a target region.

**Task Description:**
A Panda must push the named object (a wide puck, a flat box or a hexagonal block, all too wide for the
8 cm gripper to grasp) across the table until its centre lies on a flat target region (a coloured disc or
square drawn on the table, with no collision). A distractor object of another colour stands off the
pushing path.

**Randomizations (all from the world seed):**
- object shape (chamfered disc, rounded flat box or hexagonal prism), size, height, colour, yaw, position;
- target region shape (disc or square), size, colour (never the object's or distractor's), yaw, and its
  distance (13–22 cm) and direction from the object;
- distractor shape, size, colour, position (clear of the corridor the object and the gripper sweep);
- the gripper's push start behind the object and push end stay within the Panda's reach at table height;
- true density (150–1000 kg/m³, so mass follows volume) and friction (0.5–1.2; the table's is 0.3 and PhysX
  averages the two) of every object;
- per trial (episode seed): a few millimetres of reset jitter of the movable objects.

**Success Conditions:**
- the object's footprint centre lies inside the target region, the object still lies flat on the table
  (lowest point within 5 mm of the table, tilt under 10°) and is not held by the gripper.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sapien
import trimesh
from mani_skill.utils.registration import register_env

from physworld_core.world.base import WorldEnv
from physworld_core.world.layout import (
    Record,
    phrase,
    placed_at,
    points_in_workspace,
    rejection_sample,
    sample_in_workspace,
    segment_distance,
    within_reach,
)
from physworld_core.world.palette import PALETTE, jitter_colour
from physworld_core.world.registry import WorldFamily, register_family
from physworld_core.world.scripted import CLOSED, Grip, PushTo, Script, rise_by
from physworld_core.world.shapes import (
    UPRIGHT_CYLINDER,
    build_actor,
    build_convex_actor,
    chamfered_cylinder,
    pose_on_table,
    rounded_box,
)

ENV_ID = "PhysWorld-Push-v0"
_NOUNS = {
    "disc": ("puck", "disc", "coaster"),
    "slab": ("box", "board", "slab"),
    "hex": ("hexagon", "hex block", "nut"),
    "box": ("block", "cube"),
    "cylinder": ("can", "cylinder"),
}
_REGION_NOUNS = {"disc": ("target", "circle", "spot"), "square": ("target", "square", "pad")}
_PHRASINGS = (
    "push the {obj} onto the {goal}",
    "slide the {obj} onto the {goal}",
    "push the {obj} into the {goal}",
    "move the {obj} onto the {goal} by pushing it",
)
# The Panda (base at x = -0.615) reaches a fingers-down pose 14 mm above the table out to ~0.79 m (measured);
# the pusher's start (behind the object) and end must lie within this radius, with a margin.
_PUSHER_REACH = 0.76
_REGION_THICKNESS = 0.0012


@dataclass(frozen=True)
class ObjectTruth:
    """A procedural object lying on the table; ``extents`` are full bounding-box sizes in its centred frame."""

    shape: str  # "disc" | "slab" | "hex" (pushed) or "box" | "cylinder" (distractor)
    extents: tuple[float, float, float]
    corner: float  # rounding / chamfer radius
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    density: float
    friction: float
    noun: str

    @property
    def footprint_radius(self) -> float:
        return float(np.linalg.norm(object_mesh(self).vertices[:, :2], axis=1).max())

    @property
    def name(self) -> str:
        return f"{self.colour_name} {self.noun}"

    @property
    def mass(self) -> float:
        return float(self.density * object_mesh(self).volume)


@dataclass(frozen=True)
class RegionTruth:
    """The flat target drawn on the table: a disc (``half_size`` = radius) or a square (half side)."""

    shape: str
    half_size: float
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    noun: str

    @property
    def footprint_radius(self) -> float:
        return float(self.half_size * (1.0 if self.shape == "disc" else np.sqrt(2)))

    @property
    def name(self) -> str:
        return f"{self.colour_name} {self.noun}"

    def contains(self, xy, margin: float = 0.0) -> bool:
        dx, dy = xy[0] - self.xy[0], xy[1] - self.xy[1]
        if self.shape == "disc":
            return bool(np.hypot(dx, dy) <= self.half_size - margin)
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        local = np.array([c * dx + s * dy, -s * dx + c * dy])
        return bool(np.all(np.abs(local) <= self.half_size - margin))


@dataclass(frozen=True)
class PushLayout(Record):
    seed: int
    target: ObjectTruth
    region: RegionTruth
    distractor: ObjectTruth
    phrasing: int


def object_mesh(obj: ObjectTruth) -> trimesh.Trimesh:
    return _object_mesh(obj.shape, obj.extents, obj.corner)


@lru_cache(maxsize=64)
def _object_mesh(shape: str, extents: tuple[float, float, float], corner: float) -> trimesh.Trimesh:
    """Convex mesh centred on its bounding box, z up (one collision hull each)."""
    ex, _ey, ez = extents
    if shape in ("slab", "box"):
        return rounded_box(extents, corner)
    r, h = ex / 2, ez
    return chamfered_cylinder(r, h, min(corner, 0.3 * h, 0.3 * r), sections=6 if shape == "hex" else 28)


def _sample_pushed(rng: np.random.Generator, colour_name: str) -> ObjectTruth:
    shape = str(rng.choice(["disc", "slab", "hex"]))
    height = rng.uniform(0.02, 0.04)
    if shape == "slab":  # both sides wider than the open gripper
        ex, ey = rng.uniform(0.085, 0.12, 2)
        corner = rng.uniform(0.004, 0.02)
    elif shape == "hex":  # across flats > 8 cm
        ex = ey = 2 * rng.uniform(0.05, 0.062)
        corner = rng.uniform(0.001, 0.004)
    else:
        ex = ey = 2 * rng.uniform(0.045, 0.06)
        corner = rng.uniform(0.002, 0.006)
    return ObjectTruth(
        shape=shape,
        extents=(float(ex), float(ey), float(height)),
        corner=float(corner),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=colour_name,
        rgba=tuple(jitter_colour(PALETTE[colour_name], rng)),
        density=float(rng.uniform(150, 1000)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_NOUNS[shape])),
    )


def _sample_distractor(rng: np.random.Generator, colour_name: str) -> ObjectTruth:
    shape = str(rng.choice(["box", "cylinder"]))
    ex = rng.uniform(0.03, 0.055)
    ey = rng.uniform(0.03, 0.055) if shape == "box" else ex
    return ObjectTruth(
        shape=shape,
        extents=(float(ex), float(ey), float(rng.uniform(0.03, 0.08))),
        corner=float(rng.uniform(0.002, 0.008)),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=colour_name,
        rgba=tuple(jitter_colour(PALETTE[colour_name], rng)),
        density=float(rng.uniform(150, 1000)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_NOUNS[shape])),
    )


def sample_layout(seed: int) -> PushLayout:
    """Draw a world from its seed; rejection-samples the object, a target 13–22 cm away, and a distractor
    clear of the pushing corridor, all inside the reachable, visible part of the table."""
    rng = np.random.default_rng(seed)
    colours = [str(c) for c in rng.permutation(list(PALETTE))]
    target = _sample_pushed(rng, colours[0])
    distractor = _sample_distractor(rng, colours[1])
    region_shape = str(rng.choice(["disc", "square"]))
    region = RegionTruth(
        shape=region_shape,
        half_size=float(rng.uniform(0.045, 0.065)),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi / 4, np.pi / 4)),
        colour_name=colours[2],
        rgba=tuple(jitter_colour(PALETTE[colours[2]], rng, 0.04)),
        noun=str(rng.choice(_REGION_NOUNS[region_shape])),
    )
    R, Rg, Rd = target.footprint_radius, region.footprint_radius, distractor.footprint_radius

    def draw():
        obj_xy = sample_in_workspace(rng, R)
        angle, dist = rng.uniform(-np.pi, np.pi), rng.uniform(0.13, 0.22)
        d = np.array([np.cos(angle), np.sin(angle)])
        goal_xy = obj_xy + dist * d
        pusher_xy = obj_xy - (R + 0.05) * d
        dist_xy = sample_in_workspace(rng, Rd)
        ok = (
            points_in_workspace(goal_xy, Rg)
            and within_reach(pusher_xy, _PUSHER_REACH)
            and within_reach(goal_xy - (R + 0.02) * d, _PUSHER_REACH)
            and dist > R + Rg + 0.01
            and segment_distance(dist_xy, pusher_xy, goal_xy) > Rd + max(R, Rg) + 0.03
        )
        return (obj_xy, goal_xy, dist_xy) if ok else None

    obj_xy, goal_xy, dist_xy = rejection_sample(
        draw, 5000, f"push world seed {seed}: could not place objects"
    )
    return PushLayout(
        seed=seed,
        target=placed_at(target, obj_xy),
        region=placed_at(region, goal_xy),
        distractor=placed_at(distractor, dist_xy),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def prompt_for(layout: PushLayout, phrasing: int | None = None) -> str:
    return phrase(_PHRASINGS, layout, phrasing, obj=layout.target.name, goal=layout.region.name)


def _build_object(scene, obj: ObjectTruth, name: str):
    pose = pose_on_table(obj.xy, obj.extents[2] / 2, obj.yaw)
    return build_convex_actor(scene, name, object_mesh(obj), obj.rgba, obj.friction, pose, obj.density)


def _build_region(scene, region: RegionTruth):
    """A visual-only kinematic marker a millimetre thick: seen by the camera, felt by nothing."""
    builder = scene.create_actor_builder()
    mat = sapien.render.RenderMaterial(base_color=list(region.rgba))
    t = _REGION_THICKNESS / 2
    if region.shape == "disc":
        builder.add_cylinder_visual(
            pose=sapien.Pose(q=UPRIGHT_CYLINDER), radius=region.half_size, half_length=t, material=mat
        )
    else:
        builder.add_box_visual(half_size=[region.half_size, region.half_size, t], material=mat)
    builder.initial_pose = pose_on_table(region.xy, t, region.yaw)
    return build_actor(builder, "target_region", kinematic=True)


def _points(obj: ObjectTruth) -> np.ndarray:
    return np.asarray(object_mesh(obj).vertices)


@register_env(ENV_ID, max_episode_steps=200)
class PushWorldEnv(WorldEnv):
    __doc__ = __doc__
    sample_layout = staticmethod(sample_layout)
    MASSES = ("target", "distractor")

    def _build_world(self) -> None:
        self.target_object = _build_object(self.scene, self.layout.target, "target")
        self.distractor = _build_object(self.scene, self.layout.distractor, "distractor")
        self.region = _build_region(self.scene, self.layout.region)

    def _place_objects(self, env_idx) -> None:
        for actor, obj in (
            (self.target_object, self.layout.target),
            (self.distractor, self.layout.distractor),
        ):
            self._place_jittered(actor, obj.xy, obj.extents[2] / 2, obj.yaw)

    def goal_contains_xy(self, xy, margin: float = 0.0) -> bool:
        """Is a table point inside the target region (shrunk by ``margin``)?"""
        return self.layout.region.contains(xy, margin)

    def goal_actor(self):
        return self.region

    def evaluate(self):
        raw = self.target_object.pose.raw_pose[0].cpu().numpy().astype(np.float64)
        inside = self.goal_contains_xy(raw[:2])  # the frame is centred: its origin is the footprint centre
        on_table = self.target_bottom_z() < 0.005 and self.target_tilt_deg() < 10.0
        grasped = self.is_grasping_target()
        return self._evaluation(
            success=inside and on_table and not grasped, inside=inside, on_table=on_table, grasped=grasped
        )

    def target_points_local(self) -> np.ndarray:
        return _points(self.layout.target)

    def truth(self) -> dict:
        """Hidden truth for scoring: layout with masses (and the table's friction, which pushing feels)."""
        d = super().truth()
        d["table_friction"] = 0.3  # ManiSkill's default physical material, averaged with the object's
        return d


def oracle(env: PushWorldEnv):
    """Close the gripper, push the object's centre onto the region's centre (closed loop), lift away."""
    t = env.layout.target
    return Script(
        env,
        [
            Grip(CLOSED, 6),
            PushTo(env, env.layout.region.xy, _points(t), t.extents[2]),
            rise_by(env, 0.08, gripper=CLOSED, tol=0.02, timeout=30),
        ],
    )


FAMILY = register_family(
    WorldFamily(
        name="push",
        env_id=ENV_ID,
        sample_layout=sample_layout,
        prompt_for=prompt_for,
        num_phrasings=len(_PHRASINGS),
        oracle=oracle,
    )
)
