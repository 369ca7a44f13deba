"""Family "upright": stand a fallen bottle upright.

**Task Description:**
A bottle lies on its side on the table. A Panda must stand it upright on its base: grasp it across the body,
lift it, turn it so its base points down, set it down on the table and let go. A distractor object of
another colour stands elsewhere on the table.

**Randomizations (all from the world seed):**
- bottle profile (a surface of revolution: body radius and height, rounded or conical shoulder, neck radius
  and length, optional cap), colour, the direction it points on the table, position;
- distractor shape (rounded box or cylinder), size, colour (never the bottle's), position;
- true density (120–900 kg/m³ of the bottle's solid hull, so mass follows volume) and friction (0.5–1.2) of
  every object;
- per trial (episode seed): a few millimetres of reset jitter of the movable objects.

**Success Conditions:**
- the bottle's axis is within 15° of vertical with its base down, its lowest point is within 5 mm of the
  table (it stands on the table, not on something else or in the air), it is nearly still, and the gripper
  has let go. (The oracle runner requires this to hold for 10 consecutive steps.)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import sapien
import torch
import trimesh
from mani_skill.utils.registration import register_env
from transforms3d.axangles import axangle2mat
from transforms3d.euler import euler2mat
from transforms3d.quaternions import mat2quat, quat2mat

from physworld_core.world.base import WorldEnv
from physworld_core.world.layout import (
    ROBOT_BASE_XY,
    WORKSPACE_X,
    WORKSPACE_Y,
    Record,
    phrase,
    placed_at,
    points_in_workspace,
    rejection_sample,
    sample_in_workspace,
    segment_distance,
)
from physworld_core.world.palette import PALETTE, jitter_colour
from physworld_core.world.registry import WorldFamily, register_family
from physworld_core.world.scripted import (
    CLOSED,
    OPEN,
    Grip,
    Move,
    Script,
    actor_pose,
    down_rotation,
    lift_to,
    tcp_pose,
    wrap_angle,
)
from physworld_core.world.shapes import build_actor, material, mesh_file, pose_on_table, revolve, rounded_box

ENV_ID = "PhysWorld-Upright-v0"
_SECTIONS = 24
_NOUNS = ("bottle", "water bottle", "plastic bottle")
_DISTRACTOR_NOUNS = {"box": ("block", "box"), "cylinder": ("can", "cup")}
_PHRASINGS = (
    "stand the {obj} upright",
    "set the {obj} upright on the table",
    "pick up the fallen {obj} and stand it up",
    "turn the fallen {obj} upright again",
)
_MAX_TILT_DEG = 15.0


@dataclass(frozen=True)
class BottleTruth:
    """A bottle, as a revolved profile standing on z = 0 in its own frame (its axis is the frame's z)."""

    body_radius: float
    body_height: float
    shoulder_height: float
    shoulder_round: bool  # rounded (quarter ellipse) or conical shoulder
    neck_radius: float
    neck_height: float
    cap_height: float  # 0 = no cap; a cap is a little wider than the neck
    xy: tuple[float, float]  # where the middle of the lying bottle is
    yaw: float  # direction its top points to on the table
    colour_name: str
    rgba: tuple[float, ...]
    density: float
    friction: float
    noun: str

    @property
    def height(self) -> float:
        return self.body_height + self.shoulder_height + self.neck_height + self.cap_height

    @property
    def name(self) -> str:
        return f"{self.colour_name} {self.noun}"

    @property
    def mass(self) -> float:
        return float(sum(self.density * piece.volume for piece in bottle_pieces(self)))

    def lying_pose(self, dx: float = 0.0, dy: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """(p, q) of the bottle frame lying on its side, a flat facet of its body on the table."""
        R = euler2mat(0, 0, self.yaw) @ euler2mat(0, np.pi / 2, 0) @ euler2mat(0, 0, np.pi / _SECTIONS)
        points = bottle_points(self) @ R.T
        axis = R[:, 2]
        centre = np.array([self.xy[0] + dx, self.xy[1] + dy, 0.0]) - axis * self.height / 2
        centre[2] = -points[:, 2].min()
        return centre, mat2quat(R)


@dataclass(frozen=True)
class DistractorTruth:
    shape: str
    extents: tuple[float, float, float]
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
    def mass(self) -> float:
        return float(self.density * distractor_mesh(self).volume)


@dataclass(frozen=True)
class UprightLayout(Record):
    seed: int
    bottle: BottleTruth
    distractor: DistractorTruth
    phrasing: int


def bottle_profile(b: BottleTruth) -> np.ndarray:
    """(r, z) polyline from the base centre up to the top centre."""
    r, rn, c = b.body_radius, b.neck_radius, 0.004
    profile = [(0.0, 0.0), (r - c, 0.0), (r, c), (r, b.body_height)]
    for t in np.linspace(0, 1, 6)[1:]:
        z = b.body_height + t * b.shoulder_height
        frac = np.sqrt(1 - t * t) if b.shoulder_round else 1 - t
        profile.append((rn + (r - rn) * frac, z))
    z = b.body_height + b.shoulder_height + b.neck_height
    profile.append((rn, z))
    if b.cap_height > 0:
        rc = rn + 0.002
        profile += [(rc, z), (rc, z + b.cap_height)]
        z += b.cap_height
    profile.append((0.0, z))
    return np.array(profile)


@lru_cache(maxsize=32)
def _bottle_meshes(b: BottleTruth) -> tuple[trimesh.Trimesh, tuple[trimesh.Trimesh, ...]]:
    profile = bottle_profile(b)
    visual = revolve(profile, sections=_SECTIONS)
    body_top = b.body_height
    # Two convex pieces: the body, and shoulder + neck + cap (whose hull hugs the narrowing top).
    body = trimesh.convex.convex_hull(visual.vertices[visual.vertices[:, 2] <= body_top + 1e-9])
    top = trimesh.convex.convex_hull(visual.vertices[visual.vertices[:, 2] >= body_top - 1e-9])
    return visual, (body, top)


def bottle_pieces(b: BottleTruth) -> tuple[trimesh.Trimesh, ...]:
    return _bottle_meshes(replace(b, xy=(0.0, 0.0), yaw=0.0))[1]


def bottle_visual(b: BottleTruth) -> trimesh.Trimesh:
    return _bottle_meshes(replace(b, xy=(0.0, 0.0), yaw=0.0))[0]


def bottle_points(b: BottleTruth) -> np.ndarray:
    return np.asarray(bottle_visual(b).vertices)


def distractor_mesh(d: DistractorTruth) -> trimesh.Trimesh:
    ex, _ey, ez = d.extents
    if d.shape == "box":
        return rounded_box(d.extents, 0.006)
    mesh = revolve(np.array([(0, 0), (ex / 2, 0), (ex / 2, ez), (0, ez)]), sections=20)
    mesh.apply_translation([0, 0, -ez / 2])
    return mesh


def _sample_bottle(rng: np.random.Generator, colour_name: str) -> BottleTruth:
    r = rng.uniform(0.022, 0.031)
    return BottleTruth(
        body_radius=float(r),
        body_height=float(rng.uniform(0.07, 0.12)),
        shoulder_height=float(rng.uniform(0.015, 0.035)),
        shoulder_round=bool(rng.random() < 0.5),
        neck_radius=float(rng.uniform(0.009, min(0.015, 0.6 * r))),
        neck_height=float(rng.uniform(0.015, 0.035)),
        cap_height=float(rng.choice([0.0, rng.uniform(0.008, 0.015)])),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=colour_name,
        rgba=tuple(jitter_colour(PALETTE[colour_name], rng)),
        density=float(rng.uniform(120, 900)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_NOUNS)),
    )


def _sample_distractor(rng: np.random.Generator, colour_name: str) -> DistractorTruth:
    shape = str(rng.choice(["box", "cylinder"]))
    ex = rng.uniform(0.03, 0.06)
    ey = rng.uniform(0.03, 0.06) if shape == "box" else ex
    return DistractorTruth(
        shape=shape,
        extents=(float(ex), float(ey), float(rng.uniform(0.03, 0.08))),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=colour_name,
        rgba=tuple(jitter_colour(PALETTE[colour_name], rng)),
        density=float(rng.uniform(150, 1000)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_DISTRACTOR_NOUNS[shape])),
    )


def sample_layout(seed: int) -> UprightLayout:
    """Draw a world from its seed; rejection-samples the lying bottle inside the table box and a distractor
    with room for the fingers on both sides of the bottle."""
    rng = np.random.default_rng(seed)
    colours = [str(c) for c in rng.permutation(list(PALETTE))]
    bottle = _sample_bottle(rng, colours[0])
    distractor = _sample_distractor(rng, colours[1])
    half, r, rd = bottle.height / 2, bottle.body_radius, distractor.footprint_radius
    axis = np.array([np.cos(bottle.yaw), np.sin(bottle.yaw)])

    def draw():
        xy = rng.uniform([WORKSPACE_X[0], WORKSPACE_Y[0]], [WORKSPACE_X[1], WORKSPACE_Y[1]])
        ends = (xy - axis * half, xy + axis * half)
        dxy = sample_in_workspace(rng, rd)
        ok = points_in_workspace(np.array(ends), r) and segment_distance(dxy, *ends) > r + rd + 0.06
        return (xy, dxy) if ok else None

    xy, dxy = rejection_sample(draw, 2000, f"upright world seed {seed}: could not place objects")
    return UprightLayout(
        seed=seed,
        bottle=placed_at(bottle, xy),
        distractor=placed_at(distractor, dxy),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def prompt_for(layout: UprightLayout, phrasing: int | None = None) -> str:
    return phrase(_PHRASINGS, layout, phrasing, obj=layout.bottle.name)


def _build_bottle(scene, b: BottleTruth):
    builder = scene.create_actor_builder()
    for piece in bottle_pieces(b):
        builder.add_convex_collision_from_file(
            mesh_file(piece), material=material(b.friction), density=b.density
        )
    builder.add_visual_from_file(
        mesh_file(bottle_visual(b)), material=sapien.render.RenderMaterial(base_color=list(b.rgba))
    )
    p, q = b.lying_pose()
    builder.initial_pose = sapien.Pose(p, q)
    return build_actor(builder, "bottle")


def _build_distractor(scene, d: DistractorTruth):
    builder = scene.create_actor_builder()
    mesh = distractor_mesh(d)
    builder.add_convex_collision_from_file(mesh_file(mesh), material=material(d.friction), density=d.density)
    builder.add_visual_from_file(
        mesh_file(mesh), material=sapien.render.RenderMaterial(base_color=list(d.rgba))
    )
    builder.initial_pose = pose_on_table(d.xy, d.extents[2] / 2, d.yaw)
    return build_actor(builder, "distractor")


@register_env(ENV_ID, max_episode_steps=200)
class UprightWorldEnv(WorldEnv):
    __doc__ = __doc__
    sample_layout = staticmethod(sample_layout)
    MASSES = ("bottle", "distractor")

    def _build_world(self) -> None:
        self.target_object = _build_bottle(self.scene, self.layout.bottle)
        self.distractor = _build_distractor(self.scene, self.layout.distractor)

    def _place_objects(self, env_idx) -> None:
        d = self.layout.distractor
        self._set_at_rest(self.target_object, *self.layout.bottle.lying_pose(*self._jitter()))
        self._place_jittered(self.distractor, d.xy, d.extents[2] / 2, d.yaw)

    def bottle_axis(self) -> np.ndarray:
        """World direction from the bottle's base to its top."""
        raw = self.target_object.pose.raw_pose[0].cpu().numpy().astype(np.float64)
        return quat2mat(raw[3:])[:, 2]

    def goal_actor(self) -> None:
        return None  # the bottle is stood up on the table: no goal object

    def evaluate(self):
        tilt = self.target_tilt_deg()  # the bottle's axis is its frame's z
        upright = tilt < _MAX_TILT_DEG
        on_table = self.target_bottom_z() < 0.005
        still = float(torch.linalg.norm(self.target_object.linear_velocity[0])) < 0.05
        grasped = self.is_grasping_target()
        return self._evaluation(
            success=upright and on_table and still and not grasped,
            upright=upright,
            on_table=on_table,
            grasped=grasped,
            tilt_deg=tilt,
        )

    def target_points_local(self) -> np.ndarray:
        return bottle_points(self.layout.bottle)

    def truth(self) -> dict:
        """Hidden truth for scoring: layout with masses and the bottle's profile."""
        d = super().truth()
        d["bottle"]["height"] = self.layout.bottle.height
        d["bottle"]["profile_rz"] = bottle_profile(self.layout.bottle).tolist()
        return d


def _tip_plan(top_yaw: float, grasp_xy, distractor: DistractorTruth, bottle: BottleTruth):
    """Choose how to turn a lying bottle upright.

    Tipping turns the fingers from pointing down to pointing (horizontally) along the bottle's top direction,
    so the bottle is first carried to a station near the middle of the workspace, where the Panda's wrist
    reaches the needed poses (measured: fingers 45° or 90° either side of the radial direction from the robot
    base converge in ~40 steps; straight outwards runs joint 6 into its limit, towards the robot is out of
    reach, and fingers pointing sideways away from the robot's midline drive the arm near a singularity
    after a grasp far to the side) and turned about the vertical on the way so its top points that way. The
    grasp twin (closing axis +-90° from the bottle's axis) is chosen so joint 7 stays within its limits; the
    other twin's tip only converges with the fingers turned 45-90° anticlockwise of radial. Returns (grasp closing-axis yaw, turn angle, station xy, finger
    direction u); prefers little wrist travel, a short carry, and a station and hand clear of the
    distractor."""
    d_xy = np.asarray(distractor.xy)
    best, best_cost = None, np.inf
    for sx in (-0.06, 0.0, 0.05):
        for sy in (-0.1, -0.05, 0.0, 0.05, 0.1):
            station = np.array([sx, sy])
            phi = float(np.arctan2(sy - ROBOT_BASE_XY[1], sx - ROBOT_BASE_XY[0]))
            clear = np.linalg.norm(station - d_xy) - distractor.footprint_radius - bottle.body_radius
            for twin, rels in (
                (1.0, (-np.pi / 2, -np.pi / 4, np.pi / 4, np.pi / 2)),
                (-1.0, (np.pi / 4, np.pi / 2)),
            ):
                closing = top_yaw + twin * np.pi / 2
                # joint 7 ~ its ready value (0.785 with the closing axis at -90°) minus the change in yaw.
                q7_grasp = 0.785 - wrap_angle(closing + np.pi / 2)
                for rel in rels:
                    if rel * sy > 0:  # fingers pointing sideways away from the robot's midline: near singular
                        continue
                    u = phi + rel
                    psi = wrap_angle(u - top_yaw)
                    hand = station - 0.18 * np.array([np.cos(u), np.sin(u)])
                    hand_clear = segment_distance(d_xy, station, hand) - distractor.footprint_radius
                    cost = (
                        abs(q7_grasp - 0.785)
                        + abs(psi)
                        + (0.3 if twin < 0 else 0.0)
                        + 5.0 * np.linalg.norm(station - np.asarray(grasp_xy))
                    )
                    if max(abs(q7_grasp), abs(q7_grasp - psi)) > 2.7:
                        cost += 10.0
                    if clear < 0.07 or hand_clear < 0.06:
                        cost += 20.0
                    if cost < best_cost:
                        best, best_cost = (closing, psi, station, u), cost
    return best


def oracle(env: UprightWorldEnv):
    """Grasp the lying bottle from above across its body, carry it to a station where the wrist can tip it
    (turning it about the vertical on the way, see ``_tip_plan``), tip its top up about the closing axis
    (closed loop on the bottle's live axis, so slip in the fingers is corrected), lower it until its base
    nearly touches the table, open, and pull the fingers back out."""
    b = env.layout.bottle
    grip_s = 0.5 * b.body_height  # grasp the middle of the body, near the centre of mass
    tip_z = max(0.15, grip_s + 0.08)

    def grasp_point() -> np.ndarray:
        p, R = actor_pose(env.target_object)
        point = p + R[:, 2] * grip_s
        point[2] = max(point[2], 0.012)
        return point

    axis0 = env.bottle_axis()
    closing, psi, station, _ = _tip_plan(
        float(np.arctan2(axis0[1], axis0[0])), grasp_point()[:2], env.layout.distractor, b
    )
    R_grasp = down_rotation(closing)

    def turned() -> np.ndarray:
        return euler2mat(0, 0, psi) @ tcp_pose(env)[1]

    def tipped() -> np.ndarray:
        """TCP rotation that would bring the bottle's live axis to vertical (about the horizontal axis)."""
        _, R = tcp_pose(env)
        a = env.bottle_axis()
        n = np.cross(a, [0.0, 0.0, 1.0])
        if np.linalg.norm(n) < 1e-6:
            return R
        angle = np.arccos(np.clip(a[2], -1.0, 1.0))
        return axangle2mat(n / np.linalg.norm(n), angle) @ R

    def set_down() -> np.ndarray:
        p, _ = tcp_pose(env)
        return p - [0.0, 0.0, env.target_bottom_z() - 0.006]

    hold = lambda: tcp_pose(env)[1]  # keep the orientation the skill starts with

    def back_off() -> np.ndarray:
        p, R = tcp_pose(env)
        return p - R[:, 2] * 0.08 + [0.0, 0.0, 0.02]

    at_station = np.r_[station, tip_z]
    return Script(
        env,
        [
            Move(lambda: grasp_point() + [0, 0, 0.07], R_grasp, tol=0.015, symmetric=False),
            Move(grasp_point, R_grasp, tol=0.005, max_step=0.02, symmetric=False),
            Grip(CLOSED, 12),
            # Straight up first: the bottle clears the distractor (at most 8 cm tall) before it is carried.
            lift_to(env, 0.13, R_grasp, tol=0.03, symmetric=False),
            Move(at_station, turned, gripper=CLOSED, tol=0.015, symmetric=False, timeout=70),
            Move(at_station, tipped, gripper=CLOSED, rot_tol=0.03, symmetric=False, follow=True, timeout=70),
            Move(set_down, hold, gripper=CLOSED, tol=0.004, max_step=0.02, symmetric=False),
            Grip(OPEN, 10),
            Move(back_off, hold, gripper=OPEN, tol=0.02, timeout=40, symmetric=False),
        ],
    )


FAMILY = register_family(
    WorldFamily(
        name="upright",
        env_id=ENV_ID,
        sample_layout=sample_layout,
        prompt_for=prompt_for,
        num_phrasings=len(_PHRASINGS),
        oracle=oracle,
    )
)
