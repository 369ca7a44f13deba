"""Family "pan": move a pan onto a plate, holding it by its handle.

**Task Description:**
A Panda must grasp a frying pan by its long handle (the pan's body is wider than the gripper's 8 cm
opening, so the handle is the only graspable part), carry it over a plate and set it down flat on the plate.

**Randomizations (all from the world seed):**
- pan body radius, rim height, wall and floor thickness; handle length, width, thickness and upward tilt;
  pan colour, yaw (so where the handle points) and position;
- plate radius, thickness, colour and position;
- true density of the pan (300–2000 kg/m³, so mass follows volume) and frictions (0.5–1.2) of pan and plate;
- per trial (episode seed): a few millimetres of reset jitter of the pan.

**Success Conditions:**
- the centre of the pan's body lies within the plate's radius shrunk by 2 cm (in the table plane),
- the pan rests on the plate: the lowest point of its body is at most 1 cm above the plate's top surface
  (and not below it by more than the contact tolerance),
- the pan is roughly level (its axis within 12° of vertical), and
- the pan is no longer held by the gripper (it stays on the plate by itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import trimesh
from mani_skill.utils.registration import register_env
from transforms3d.quaternions import quat2mat

from physworld_core.sim.base_env import actor_points_world
from physworld_core.world.base import WorldEnv
from physworld_core.world.layout import (
    Record,
    colour_noun,
    phrase,
    placed_at,
    points_in_workspace,
    rejection_sample,
)
from physworld_core.world.palette import CONTAINER_PALETTE, PALETTE, jitter_colour
from physworld_core.world.registry import WorldFamily, register_family
from physworld_core.world.scripted import (
    CLOSED,
    Grip,
    Move,
    Script,
    actor_pose,
    down_rotation,
    lift_to,
    rise_by,
    tcp_pose,
)
from physworld_core.world.shapes import (
    add_convex_mesh,
    add_open_cylinder,
    build_actor,
    build_convex_actor,
    cylinder_rim_points,
    pose_on_table,
    revolve,
)

ENV_ID = "PhysWorld-Pan-v0"
_WALL_SEGMENTS = 10
_NOUNS = ("pan", "frying pan", "skillet")
_PLATE_NOUNS = ("plate", "dish", "platter")
_PHRASINGS = (
    "move the {obj} onto the {plate} by its handle",
    "pick up the {obj} by the handle and put it on the {plate}",
    "grab the handle of the {obj} and set it down on the {plate}",
    "place the {obj} on the {plate}, holding it by its handle",
)
_CENTRE_MARGIN = 0.02  # body centre within plate radius minus this
_REST_TOL = 0.01  # body bottom at most this above the plate top
_LEVEL_COS = float(np.cos(np.deg2rad(12)))


@dataclass(frozen=True)
class PanTruth:
    """A pan: a shallow walled disk (origin at the centre of its bottom face) with a handle along +x."""

    radius: float  # outer radius of the body
    rim_height: float  # bottom to rim top
    wall_thickness: float
    floor_thickness: float
    handle_length: float  # from the body's outer wall to the handle's tip
    handle_width: float
    handle_thickness: float
    handle_tilt: float  # upward tilt of the handle (rad)
    xy: tuple[float, float]
    yaw: float  # direction the handle points
    colour_name: str
    rgba: tuple[float, ...]
    density: float
    friction: float
    noun: str

    @property
    def handle_root(self) -> np.ndarray:
        """Centre of the handle's root, inside the wall just below the rim (actor frame)."""
        return np.array([self.radius - self.wall_thickness, 0.0, self.rim_height - self.handle_thickness / 2])

    @property
    def handle_axis(self) -> np.ndarray:
        return np.array([np.cos(self.handle_tilt), 0.0, np.sin(self.handle_tilt)])

    @property
    def handle_span(self) -> float:
        """Length of the handle box, root (inside the wall) to tip."""
        return (self.handle_length + self.wall_thickness) / np.cos(self.handle_tilt)

    def handle_point(self, fraction: float) -> np.ndarray:
        """A point on the handle's centre line, ``fraction`` of the way from the wall to the tip."""
        s = (self.wall_thickness + fraction * self.handle_length) / np.cos(self.handle_tilt)
        return self.handle_root + s * self.handle_axis

    def body_volume(self) -> float:
        r, t, h, f = self.radius, self.wall_thickness, self.rim_height, self.floor_thickness
        return float(np.pi * r * r * f + np.pi * (r * r - (r - t) ** 2) * (h - f))

    @property
    def mass(self) -> float:
        handle = self.handle_span * self.handle_width * self.handle_thickness
        return float(self.density * (self.body_volume() + handle))

    def footprint_points(self) -> np.ndarray:
        """World xy points outlining the pan (body circle and the handle's tip corners)."""
        a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        local = [np.column_stack([self.radius * np.cos(a), self.radius * np.sin(a)])]
        tip = self.radius + self.handle_length
        local.append(np.array([[tip, -self.handle_width / 2], [tip, self.handle_width / 2]]))
        local = np.vstack(local)
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return local @ np.array([[c, s], [-s, c]]) + np.asarray(self.xy)


@dataclass(frozen=True)
class PlateTruth:
    radius: float
    thickness: float
    xy: tuple[float, float]
    colour_name: str
    rgba: tuple[float, ...]
    friction: float
    noun: str


@dataclass(frozen=True)
class PanLayout(Record):
    seed: int
    pan: PanTruth
    plate: PlateTruth
    phrasing: int


def _clearance_to_disk(p: PanTruth, centre, radius: float) -> float:
    """Gap in the table plane between the pan (body disk and handle strip) and a disk."""
    c, body = np.asarray(centre, dtype=float), np.asarray(p.xy, dtype=float)
    u = np.array([np.cos(p.yaw), np.sin(p.yaw)])
    s = np.clip((c - body) @ u, p.radius, p.radius + p.handle_length)  # nearest handle point
    handle_gap = np.linalg.norm(c - (body + s * u)) - p.handle_width / 2
    return float(min(np.linalg.norm(c - body) - p.radius, handle_gap) - radius)


def sample_layout(seed: int) -> PanLayout:
    """Draw a world from its seed; rejection-samples poses so nothing overlaps and all is reachable."""
    rng = np.random.default_rng(seed)
    pan_colour = str(rng.choice(list(PALETTE)))
    plate_colour = str(rng.choice(list(CONTAINER_PALETTE)))
    radius = float(rng.uniform(0.055, 0.075))
    pan = PanTruth(
        radius=radius,
        rim_height=float(rng.uniform(0.022, 0.035)),
        wall_thickness=float(rng.uniform(0.004, 0.007)),
        floor_thickness=float(rng.uniform(0.004, 0.007)),
        handle_length=float(rng.uniform(0.08, 0.12)),
        handle_width=float(rng.uniform(0.016, 0.026)),
        handle_thickness=float(rng.uniform(0.012, 0.018)),
        handle_tilt=float(rng.uniform(0.0, 0.2)),
        xy=(0.0, 0.0),
        yaw=0.0,
        colour_name=pan_colour,
        rgba=tuple(jitter_colour(PALETTE[pan_colour], rng, 0.04)),
        density=float(rng.uniform(300, 2000)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_NOUNS)),
    )
    plate = PlateTruth(
        radius=float(rng.uniform(0.085, 0.11)),
        thickness=float(rng.uniform(0.008, 0.015)),
        xy=(0.0, 0.0),
        colour_name=plate_colour,
        rgba=tuple(jitter_colour(CONTAINER_PALETTE[plate_colour], rng, 0.04)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_PLATE_NOUNS)),
    )
    side = rng.choice([-1.0, 1.0])  # the plate stands left or right, the pan on the other side

    def draw():
        plate_xy = np.array([rng.uniform(-0.06, 0.08), side * rng.uniform(0.1, 0.16)])
        pan_xy = np.array([rng.uniform(-0.08, 0.1), -side * rng.uniform(0.02, 0.12)])
        yaw = float(rng.uniform(-np.pi, np.pi))
        candidate = placed_at(pan, pan_xy, yaw=yaw)
        plate_ring = plate_xy + plate.radius * np.column_stack(
            [np.cos(np.linspace(0, 2 * np.pi, 24)), np.sin(np.linspace(0, 2 * np.pi, 24))]
        )
        ok = (
            points_in_workspace(candidate.footprint_points(), 0.005)
            and points_in_workspace(plate_ring, 0.005)
            and _clearance_to_disk(candidate, plate_xy, plate.radius) > 0.04
        )
        return (candidate, plate_xy) if ok else None

    candidate, plate_xy = rejection_sample(
        draw, 5000, f"pan world seed {seed}: could not place objects without overlap"
    )
    return PanLayout(
        seed=seed,
        pan=candidate,
        plate=placed_at(plate, plate_xy),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def prompt_for(layout: PanLayout, phrasing: int | None = None) -> str:
    return phrase(_PHRASINGS, layout, phrasing, obj=colour_noun(layout.pan), plate=colour_noun(layout.plate))


def _handle_mesh(p: PanTruth) -> trimesh.Trimesh:
    """The handle box in the actor frame: root inside the wall, tilted up by ``handle_tilt``."""
    box = trimesh.creation.box(extents=[p.handle_span, p.handle_width, p.handle_thickness])
    T = trimesh.transformations.rotation_matrix(-p.handle_tilt, [0, 1, 0])  # +tilt lifts the tip (+x) up
    T[:3, 3] = p.handle_root + 0.5 * p.handle_span * p.handle_axis
    box.apply_transform(T)
    return box


def body_points_local(p: PanTruth, sections: int = 24) -> np.ndarray:
    return cylinder_rim_points(p.radius, 0.0, p.rim_height, sections)


def pan_points_local(p: PanTruth) -> np.ndarray:
    return np.vstack([body_points_local(p), _handle_mesh(p).vertices])


def _build_pan(scene, p: PanTruth, name: str = "pan"):
    """The body is an open cylinder (floor disc and wall boxes), the handle one convex box."""
    builder = scene.create_actor_builder()
    inner = p.radius - p.wall_thickness
    args = (inner, p.wall_thickness, p.floor_thickness, p.rim_height, p.rgba, p.friction, p.density)
    add_open_cylinder(builder, *args, _WALL_SEGMENTS, bevel=0.004, outer=p.radius)
    add_convex_mesh(builder, _handle_mesh(p), p.rgba, p.friction, p.density)
    builder.initial_pose = pose_on_table(p.xy, 0.0, p.yaw)
    return build_actor(builder, name)


def _build_plate(scene, pl: PlateTruth, name: str = "plate"):
    r, t = pl.radius, pl.thickness
    profile = np.array(
        [[0, 0], [r - 0.012, 0], [r, 0.6 * t], [r - 0.004, t], [0, t]]
    )  # convex: hull is exact
    return build_convex_actor(
        scene, name, revolve(profile), pl.rgba, pl.friction, pose_on_table(pl.xy), kinematic=True
    )


@register_env(ENV_ID, max_episode_steps=250)
class PanWorldEnv(WorldEnv):
    __doc__ = __doc__
    sample_layout = staticmethod(sample_layout)
    MASSES = ("pan",)

    def _build_world(self) -> None:
        self.target_object = self.pan = _build_pan(self.scene, self.layout.pan)
        self.plate = _build_plate(self.scene, self.layout.plate)

    def _place_objects(self, env_idx) -> None:
        p = self.layout.pan
        self._place_jittered(self.pan, p.xy, 0.0, p.yaw)

    @cached_property
    def _body_points(self) -> np.ndarray:
        return body_points_local(self.layout.pan)

    def _pan_state(self) -> tuple[np.ndarray, np.ndarray]:
        raw = self.pan.pose.raw_pose[0].cpu().numpy().astype(np.float64)
        return raw[:3], quat2mat(raw[3:])

    def body_bottom_z(self) -> float:
        return float(actor_points_world(self.pan, self._body_points)[:, 2].min())

    def goal_actor(self):
        return self.plate

    def evaluate(self):
        pl = self.layout.plate
        p, R = self._pan_state()
        centred = float(np.hypot(p[0] - pl.xy[0], p[1] - pl.xy[1])) <= pl.radius - _CENTRE_MARGIN
        gap = self.body_bottom_z() - pl.thickness
        on_plate = centred and -0.004 <= gap <= _REST_TOL
        level = float(R[2, 2]) >= _LEVEL_COS
        grasped = self.is_grasping_target()
        return self._evaluation(
            success=on_plate and level and not grasped, on_plate=on_plate, level=level, grasped=grasped
        )

    def target_points_local(self) -> np.ndarray:
        return pan_points_local(self.layout.pan)


def oracle(env: PanWorldEnv):
    """Grasp the handle across its width, lift, carry the body's centre over the plate's, lower it until it
    almost touches, open, retreat. Carry and descent targets are measured from the held pan (it may sag in the
    grip), so the body, not the gripper, is what lands on the plate."""
    p, pl = env.layout.pan, env.layout.plate
    grasp_local = p.handle_point(0.55)
    # Tilted handle: aim at the centre line, but keep the fingertips off the table.
    grasp = lambda: actor_pose(env.pan)[0] + actor_pose(env.pan)[1] @ grasp_local + [0, 0, 0.0]
    R = down_rotation(p.yaw + np.pi / 2)
    carry_z = pl.thickness + 0.06  # body bottom this high while carried

    def offset() -> np.ndarray:
        """TCP minus body-centre (xy) and TCP minus body bottom (z), from the pan as it hangs now."""
        tcp, _ = tcp_pose(env)
        centre, _ = actor_pose(env.pan)
        return np.r_[tcp[:2] - centre[:2], tcp[2] - env.body_bottom_z()]

    def over_plate(height: float):
        def target() -> np.ndarray:
            o = offset()
            return np.r_[np.asarray(pl.xy) + o[:2], pl.thickness + height + o[2]]

        return target

    return Script(
        env,
        [
            Move(lambda: grasp() + [0, 0, 0.07], R, tol=0.015),
            Move(grasp, R, tol=0.005, max_step=0.02),
            Grip(CLOSED, 12),
            lift_to(env, lambda: carry_z + offset()[2], R, tol=0.015),
            Move(over_plate(0.05), R, gripper=CLOSED, tol=0.01),
            Move(over_plate(0.05), R, gripper=CLOSED, tol=0.006),
            Move(over_plate(0.006), R, gripper=CLOSED, tol=0.004, max_step=0.015),
            Grip(1.0, 12),
            rise_by(env, 0.08, R, tol=0.02),
        ],
    )


FAMILY = register_family(
    WorldFamily(
        name="pan",
        env_id=ENV_ID,
        sample_layout=sample_layout,
        prompt_for=prompt_for,
        num_phrasings=len(_PHRASINGS),
        oracle=oracle,
    )
)
