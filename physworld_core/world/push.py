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

from dataclasses import asdict, dataclass, replace
from functools import lru_cache

import numpy as np
import sapien
import torch
import trimesh
from mani_skill.utils.registration import register_env
from mani_skill.utils.structs.pose import Pose
from transforms3d.euler import euler2quat
from transforms3d.quaternions import quat2mat

from physworld_core.sim.base_env import TabletopEnv
from physworld_core.world.palette import PALETTE, jitter_colour
from physworld_core.world.registry import WorldFamily, register_family
from physworld_core.world.shapes import add_convex_mesh, revolve, rounded_box

ENV_ID = "PhysWorld-Push-v0"
_UPRIGHT_CYLINDER = euler2quat(0, np.pi / 2, 0)  # SAPIEN cylinders lie along x; stand them up along z.
_NOUNS = {
    "disc": ("puck", "disc", "coaster"),
    "slab": ("box", "tray", "slab"),
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
_X_RANGE, _Y_RANGE = (-0.15, 0.17), (-0.25, 0.25)  # everything on the table lies in this box
# The Panda (base at x = -0.615) reaches a fingers-down pose 14 mm above the table out to ~0.79 m (measured);
# the pusher's start (behind the object) and end must lie within this radius, with a margin.
_PUSHER_REACH = 0.76
_ROBOT_BASE_XY = np.array([-0.615, 0.0])
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
class PushLayout:
    seed: int
    target: ObjectTruth
    region: RegionTruth
    distractor: ObjectTruth
    phrasing: int

    def to_dict(self) -> dict:
        return asdict(self)


def object_mesh(obj: ObjectTruth) -> trimesh.Trimesh:
    return _object_mesh(obj.shape, obj.extents, obj.corner)


@lru_cache(maxsize=64)
def _object_mesh(shape: str, extents: tuple[float, float, float], corner: float) -> trimesh.Trimesh:
    """Convex mesh centred on its bounding box, z up (one collision hull each)."""
    ex, _ey, ez = extents
    if shape in ("slab", "box"):
        return rounded_box(extents, corner)
    r, h = ex / 2, ez
    c = min(corner, 0.3 * h, 0.3 * r)
    sections = 6 if shape == "hex" else 28
    mesh = revolve(np.array([(0, 0), (r - c, 0), (r, c), (r, h - c), (r - c, h), (0, h)]), sections=sections)
    mesh.apply_translation([0, 0, -h / 2])
    return mesh


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


def _in_box(xy, radius: float) -> bool:
    return (
        _X_RANGE[0] + radius <= xy[0] <= _X_RANGE[1] - radius
        and _Y_RANGE[0] + radius <= xy[1] <= _Y_RANGE[1] - radius
    )


def _segment_distance(p, a, b) -> float:
    p, a, b = (np.asarray(v, dtype=np.float64) for v in (p, a, b))
    t = np.clip(np.dot(p - a, b - a) / max(np.dot(b - a, b - a), 1e-12), 0.0, 1.0)
    return float(np.linalg.norm(p - (a + t * (b - a))))


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
    for _ in range(5000):
        obj_xy = rng.uniform([_X_RANGE[0] + R, _Y_RANGE[0] + R], [_X_RANGE[1] - R, _Y_RANGE[1] - R])
        angle, dist = rng.uniform(-np.pi, np.pi), rng.uniform(0.13, 0.22)
        d = np.array([np.cos(angle), np.sin(angle)])
        goal_xy = obj_xy + dist * d
        pusher_xy = obj_xy - (R + 0.05) * d
        dist_xy = rng.uniform([_X_RANGE[0] + Rd, _Y_RANGE[0] + Rd], [_X_RANGE[1] - Rd, _Y_RANGE[1] - Rd])
        if (
            _in_box(goal_xy, Rg)
            and np.linalg.norm(pusher_xy - _ROBOT_BASE_XY) <= _PUSHER_REACH
            and np.linalg.norm(goal_xy - (R + 0.02) * d - _ROBOT_BASE_XY) <= _PUSHER_REACH
            and dist > R + Rg + 0.01
            and _segment_distance(dist_xy, pusher_xy, goal_xy) > Rd + max(R, Rg) + 0.03
        ):
            break
    else:  # pragma: no cover - the ranges above always admit a layout
        raise RuntimeError(f"push world seed {seed}: could not place objects")
    return PushLayout(
        seed=seed,
        target=replace(target, xy=tuple(map(float, obj_xy))),
        region=replace(region, xy=tuple(map(float, goal_xy))),
        distractor=replace(distractor, xy=tuple(map(float, dist_xy))),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def prompt_for(layout: PushLayout, phrasing: int | None = None) -> str:
    template = _PHRASINGS[layout.phrasing if phrasing is None else phrasing % len(_PHRASINGS)]
    return template.format(obj=layout.target.name, goal=layout.region.name)


def _build_convex_actor(scene, mesh: trimesh.Trimesh, obj: ObjectTruth, name: str):
    """A dynamic actor whose collision is the hull of ``mesh``; fails loudly if ManiSkill dropped the hull."""
    builder = scene.create_actor_builder()
    add_convex_mesh(builder, mesh, obj.rgba, obj.friction, density=obj.density)
    builder.initial_pose = sapien.Pose([obj.xy[0], obj.xy[1], obj.extents[2] / 2], euler2quat(0, 0, obj.yaw))
    actor = builder.build(name=name)
    body = actor._objs[0].find_component_by_type(sapien.physx.PhysxRigidDynamicComponent)
    if body is None or not body.collision_shapes:
        raise RuntimeError(f"actor {name!r} was built without its collision hull")
    return actor


def _build_region(scene, region: RegionTruth):
    """A visual-only kinematic marker a millimetre thick: seen by the camera, felt by nothing."""
    builder = scene.create_actor_builder()
    mat = sapien.render.RenderMaterial(base_color=list(region.rgba))
    t = _REGION_THICKNESS / 2
    if region.shape == "disc":
        builder.add_cylinder_visual(
            pose=sapien.Pose(q=_UPRIGHT_CYLINDER), radius=region.half_size, half_length=t, material=mat
        )
    else:
        builder.add_box_visual(half_size=[region.half_size, region.half_size, t], material=mat)
    builder.initial_pose = sapien.Pose([region.xy[0], region.xy[1], t], euler2quat(0, 0, region.yaw))
    return builder.build_kinematic(name="target_region")


def _points(obj: ObjectTruth) -> np.ndarray:
    return np.asarray(object_mesh(obj).vertices)


@register_env(ENV_ID, max_episode_steps=200)
class PushWorldEnv(TabletopEnv):
    __doc__ = __doc__

    def __init__(self, *args, world_seed: int = 0, reset_jitter_m: float = 0.003, **kwargs):
        self.layout = sample_layout(world_seed)
        self.reset_jitter_m = reset_jitter_m
        super().__init__(*args, **kwargs)

    def _build_objects(self) -> None:
        from mani_skill.utils.scene_builder.table import TableSceneBuilder

        self.table_scene = TableSceneBuilder(self, robot_init_qpos_noise=0.0)
        self.table_scene.build()
        t, d = self.layout.target, self.layout.distractor
        self.target_object = _build_convex_actor(self.scene, object_mesh(t), t, "target")
        self.distractor = _build_convex_actor(self.scene, object_mesh(d), d, "distractor")
        self.region = _build_region(self.scene, self.layout.region)

    def _place_objects(self, env_idx: torch.Tensor) -> None:
        rng = self._batched_episode_rng[0] if self._batched_episode_rng is not None else np.random
        for actor, obj in (
            (self.target_object, self.layout.target),
            (self.distractor, self.layout.distractor),
        ):
            dx, dy = rng.normal(0.0, self.reset_jitter_m, 2) if self.reset_jitter_m > 0 else (0.0, 0.0)
            p = torch.tensor([[obj.xy[0] + dx, obj.xy[1] + dy, obj.extents[2] / 2]], dtype=torch.float32)
            q = torch.tensor(np.asarray([euler2quat(0, 0, obj.yaw)]), dtype=torch.float32)
            actor.set_pose(Pose.create_from_pq(p, q))
            actor.set_linear_velocity(torch.zeros((1, 3)))
            actor.set_angular_velocity(torch.zeros((1, 3)))

    def target_points_world(self) -> np.ndarray:
        raw = self.target_object.pose.raw_pose[0].cpu().numpy().astype(np.float64)
        return _points(self.layout.target) @ quat2mat(raw[3:]).T + raw[:3]

    def goal_contains_xy(self, xy, margin: float = 0.0) -> bool:
        """Is a table point inside the target region (shrunk by ``margin``)?"""
        return self.layout.region.contains(xy, margin)

    def evaluate(self):
        raw = self.target_object.pose.raw_pose[0].cpu().numpy().astype(np.float64)
        inside = self.goal_contains_xy(raw[:2])  # the frame is centred: its origin is the footprint centre
        bottom = float(self.target_points_world()[:, 2].min())
        tilt = float(np.degrees(np.arccos(np.clip(quat2mat(raw[3:])[2, 2], -1.0, 1.0))))
        on_table = bottom < 0.005 and tilt < 10.0
        grasped = bool(self.agent.is_grasping(self.target_object)[0])
        success = inside and on_table and not grasped
        return {
            "success": torch.tensor([success]),
            "inside": torch.tensor([inside]),
            "on_table": torch.tensor([on_table]),
            "grasped": torch.tensor([grasped]),
        }

    def target_points_local(self) -> np.ndarray:
        return _points(self.layout.target)

    def truth(self) -> dict:
        """Hidden truth for scoring: layout with masses (and the table's friction, which pushing feels)."""
        d = self.layout.to_dict()
        d["target"]["mass"] = self.layout.target.mass
        d["distractor"]["mass"] = self.layout.distractor.mass
        d["table_friction"] = 0.3  # ManiSkill's default physical material, averaged with the object's
        return d


class PushTo:
    """Closed-loop pushing skill (reads the live object pose every step).

    The closed gripper is parked behind the object on the line from the goal through the object's centre,
    lowered to just above the table, and driven along that line; the push point is recomputed from the
    object's current footprint every step, so a sideways drift steers the pusher back onto the line. If the
    pusher falls off the line (the object turned or slid away), it lifts, flies round behind the object
    again and re-lowers. Ends once the object's centre is within ``tol`` of the goal.

    Args:
        speed: commanded pusher advance per control step (the arm realises ~40 % of it).
        realign: lateral offset (m) from the goal line at which the pusher goes round again.
        slow_at: lateral offset at which the forward push has slowed to a crawl while it re-centres.
        lateral_gain: fraction of the lateral offset corrected per step (capped at 1 cm).
    """

    def __init__(
        self,
        env,
        goal_xy,
        points_local: np.ndarray,
        height: float,
        *,
        tol: float = 0.008,
        speed: float = 0.015,
        realign: float = 0.025,
        slow_at: float = 0.02,
        lateral_gain: float = 1.0,
        timeout: int = 220,
    ):
        from physworld_core.world.scripted import CLOSED, Move

        self.env, self.goal = env, np.asarray(goal_xy, dtype=np.float64)
        self.points_local = points_local
        self.push_z = 0.014  # fingertips ~4.5 mm above the table
        self.safe_z = height + 0.04
        self.tol, self.speed, self.timeout = tol, speed, timeout
        self.realign, self.slow_at, self.lateral_gain = realign, slow_at, lateral_gain
        self.phase = "lift"
        self._target = np.zeros(3)
        self._R = None
        self._servo = Move(lambda: self._target, lambda: self._R, gripper=CLOSED, follow=True)
        self._servo_steps = 0

    def _geometry(self):
        from physworld_core.world.scripted import actor_pose

        p, R = actor_pose(self.env.target_object)
        footprint = (self.points_local @ R.T)[:, :2]
        e = self.goal - p[:2]
        dist = float(np.linalg.norm(e))
        d = e / max(dist, 1e-9)
        behind = float((footprint @ -d).max())  # how far the object reaches back from its centre along -d
        return p[:2], d, dist, behind

    def act(self, env, steps: int):
        from physworld_core.world.scripted import down_rotation, tcp_pose

        c, d, dist, behind = self._geometry()
        tcp, _ = tcp_pose(env)
        clear = 0.013  # half the fingertips' depth along the push (8.75 mm) plus a margin
        contact = c - d * (behind + clear)
        if self._R is None or self.phase == "lift":
            self._R = down_rotation(np.arctan2(d[1], d[0]) + np.pi / 2)  # fingers side by side across d
        rel = tcp[:2] - c
        lateral, along = float(d[0] * rel[1] - d[1] * rel[0]), float(rel @ d)
        pre = contact - d * 0.02
        if self.phase == "push" and (
            abs(lateral) > self.realign or along > -0.5 * behind or tcp[2] > self.push_z + 0.02
        ):
            self.phase = "lift"  # fell off the line: go round again
        if self.phase == "lift":
            if tcp[2] < self.safe_z - 0.01 and np.linalg.norm(tcp[:2] - pre) > 0.015:
                self._target = np.r_[tcp[:2], self.safe_z]  # straight up, clear of the object
            else:
                self.phase = "over"
        if self.phase == "over":
            if np.linalg.norm(tcp[:2] - pre) > 0.015:
                self._target = np.r_[pre, max(self.safe_z, tcp[2])]  # fly over at a safe height
            else:
                self._target = np.r_[pre, self.push_z]  # then lower behind the object
                if tcp[2] < self.push_z + 0.006:
                    self.phase = "push"
            self._servo.max_step = 0.03
        if self.phase == "push":
            # Forward at ``speed`` (no further than the object still has to go, plus any gap to close), and
            # sideways back onto the goal line through the object's centre, which re-centres the push.
            gap = max(0.0, -(along + behind + clear))
            forward = min(self.speed, max(dist, 0.002) + gap) * float(
                np.clip(1 - abs(lateral) / self.slow_at, 0.1, 1)
            )
            sideways = np.clip(-self.lateral_gain * lateral, -0.01, 0.01)
            normal = np.array([-d[1], d[0]])
            self._target = np.r_[tcp[:2] + d * forward + normal * sideways, self.push_z]
            self._servo.max_step = 0.02
        self._servo_steps += 1
        action, _ = self._servo.act(env, self._servo_steps)
        done = dist < self.tol or steps >= self.timeout
        return action, done


def oracle(env: PushWorldEnv):
    """Close the gripper, push the object's centre onto the region's centre (closed loop), lift away."""
    from physworld_core.world.scripted import CLOSED, Grip, Move, Script, tcp_pose

    t = env.layout.target
    return Script(
        env,
        [
            Grip(CLOSED, 6),
            PushTo(env, env.layout.region.xy, _points(t), t.extents[2]),
            Move(lambda: tcp_pose(env)[0] + [0, 0, 0.08], gripper=CLOSED, tol=0.02, timeout=30),
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
