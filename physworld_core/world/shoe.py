"""Family "shoe": put the shoe in the shoebox.

**Task Description:**
A Panda must pick the named shoe (a small procedural shoe: the convex hull of a sole, a toe cap and a heel
counter) up from the table and lay it inside an open-top shoebox, lengthwise. A distractor object stands
elsewhere on the table.

**Randomizations (all from the world seed):**
- shoe length, width, toe and heel heights, toe and heel shapes, colour, yaw, position;
- shoebox inner length and width (a few centimetres of room around the shoe), wall height and thickness,
  colour, yaw, position (left or right of the shoe);
- distractor shape (rounded block or ball-like knot of ellipsoids), size, colour (never the shoe's colour
  name), position;
- true density (shoe 100–700 kg/m³, a shoe's solid hull is mostly air; distractor 150–1000 kg/m³) and
  friction (0.5–1.2) of every object;
- per trial (episode seed): a few millimetres of reset jitter of the movable objects.

**Success Conditions:**
- every point of the shoe's hull lies inside the box's inner footprint (in the box frame, 3 mm tolerance),
  the shoe's sole is below the box's rim, and the shoe is no longer held by the gripper.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import sapien
import torch
import trimesh
from mani_skill.utils.registration import register_env
from mani_skill.utils.structs.pose import Pose
from transforms3d.euler import euler2quat
from transforms3d.quaternions import quat2mat

from physworld_core.sim.base_env import TabletopEnv
from physworld_core.world.palette import CONTAINER_PALETTE, PALETTE, jitter_colour
from physworld_core.world.registry import WorldFamily, register_family
from physworld_core.world.shapes import add_convex_mesh, material, mesh_file, rounded_box

ENV_ID = "PhysWorld-Shoe-v0"
_SHOE_NOUNS = ("shoe", "sneaker", "slipper", "baby shoe")
_BOX_NOUNS = ("shoebox", "shoe box", "box")
_DISTRACTOR_NOUNS = {"block": ("block", "brush"), "ball": ("ball", "sock ball")}
_PHRASINGS = (
    "put the {obj} in the {box}",
    "place the {obj} inside the {box}",
    "pack the {obj} into the {box}",
    "pick up the {obj} and put it away in the {box}",
)
_FLOOR = 0.005  # shoebox floor thickness


def _ellipsoid_points(centre, radii, n: int = 10) -> np.ndarray:
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, n, endpoint=False), np.linspace(-np.pi / 2, np.pi / 2, n))
    pts = np.column_stack(
        [np.cos(v).ravel() * np.cos(u).ravel(), np.cos(v).ravel() * np.sin(u).ravel(), np.sin(v).ravel()]
    )
    return pts * np.asarray(radii) + np.asarray(centre)


def blob_hull(ellipsoids, floor: bool = True) -> trimesh.Trimesh:
    """Convex hull of a few ellipsoids (centre, radii), optionally cut flat at z = 0 (a sole)."""
    points = np.vstack([_ellipsoid_points(c, r) for c, r in ellipsoids])
    if floor:
        points[:, 2] = np.maximum(points[:, 2], 0.0)
    return trimesh.convex.convex_hull(points)


@dataclass(frozen=True)
class ShoeTruth:
    """A shoe lying on its sole: length along its frame's x (toe at +x), sole at z = 0, bbox centred in xy."""

    length: float
    width: float
    toe_height: float
    heel_height: float
    toe_bulge: float  # 0..1: how far forward the toe cap's fullness reaches
    heel_lean: float  # how far the collar leans back (m)
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    density: float
    friction: float
    noun: str

    def _pieces(self) -> list:
        L, W = self.length, self.width
        return [
            ((0.0, 0.0, 0.004), (L / 2, W / 2, 0.008)),  # sole
            ((L * (0.18 + 0.1 * self.toe_bulge), 0.0, 0.0), (L * 0.3, W * 0.48, self.toe_height)),  # toe cap
            ((-L * 0.28, 0.0, 0.0), (L * 0.22, W * 0.47, 0.7 * self.heel_height)),  # heel counter
            (
                (-L * 0.22 - self.heel_lean, 0.0, self.heel_height - 0.01),
                (L * 0.12, W * 0.36, 0.01),
            ),  # collar
        ]

    def mesh(self) -> trimesh.Trimesh:
        """The shoe's hull (its collision shape and its body's look), bbox centred in xy, sole at z = 0."""
        mesh = blob_hull(self._pieces())
        lo, hi = mesh.bounds
        mesh.apply_translation([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2]])
        return mesh

    def opening_mesh(self) -> trimesh.Trimesh:
        """A dark ellipse just under the top of the collar, visual only: it shows through as the opening."""
        lo, hi = blob_hull(self._pieces()).bounds
        (cx, cy, _), (rx, ry, _) = self._pieces()[3]
        disc = trimesh.creation.cylinder(radius=1.0, height=0.003, sections=24)
        disc.apply_scale([0.75 * rx, 0.75 * ry, 1.0])
        disc.apply_translation([cx - (lo[0] + hi[0]) / 2, cy - (lo[1] + hi[1]) / 2, self.heel_height - 0.001])
        return disc

    @property
    def mass(self) -> float:
        return float(self.density * self.mesh().volume)


@dataclass(frozen=True)
class ShoeboxTruth:
    inner_half: tuple[float, float]  # along the box's x (long) and y
    wall_height: float
    wall_thickness: float
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    friction: float
    noun: str

    @property
    def footprint_radius(self) -> float:
        return float(np.hypot(*self.inner_half) + self.wall_thickness)


@dataclass(frozen=True)
class DistractorTruth:
    shape: str  # "block" | "ball"
    half_size: tuple[float, float, float]
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    density: float
    friction: float
    noun: str

    def mesh(self) -> trimesh.Trimesh:
        hx, hy, hz = self.half_size
        if self.shape == "ball":
            # Centred below half height: the hull is cut flat underneath, so the "ball" rests without rolling.
            pieces = [
                ((0, 0, 0.7 * hz), (hx, hy, hz)),
                ((0.3 * hx, 0, 0.7 * hz), (0.7 * hx, 0.9 * hy, 0.9 * hz)),
            ]
            mesh = blob_hull(pieces)
        else:
            mesh = rounded_box((2 * hx, 2 * hy, 2 * hz), 0.3 * min(hx, hy))
            mesh.apply_translation([0, 0, hz])
        return mesh

    @property
    def footprint_radius(self) -> float:
        return float(np.hypot(self.half_size[0], self.half_size[1]))

    @property
    def mass(self) -> float:
        return float(self.density * self.mesh().volume)


@dataclass(frozen=True)
class ShoeLayout:
    seed: int
    shoe: ShoeTruth
    box: ShoeboxTruth
    distractor: DistractorTruth
    phrasing: int

    def to_dict(self) -> dict:
        return asdict(self)


def _separated(placed, clearance: float) -> bool:
    return all(
        np.hypot(a[0][0] - b[0][0], a[0][1] - b[0][1]) > a[1] + b[1] + clearance
        for i, a in enumerate(placed)
        for b in placed[i + 1 :]
    )


def sample_layout(seed: int) -> ShoeLayout:
    """Draw a world from its seed; rejection-samples positions so nothing overlaps and all is reachable."""
    rng = np.random.default_rng(seed)
    colours = rng.permutation(list(PALETTE))
    shoe = ShoeTruth(
        length=float(rng.uniform(0.1, 0.14)),
        width=float(rng.uniform(0.045, 0.062)),
        toe_height=float(rng.uniform(0.022, 0.034)),
        heel_height=float(rng.uniform(0.042, 0.065)),
        toe_bulge=float(rng.uniform(0.0, 1.0)),
        heel_lean=float(rng.uniform(0.0, 0.01)),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=str(colours[0]),
        rgba=tuple(jitter_colour(PALETTE[str(colours[0])], rng)),
        density=float(rng.uniform(100, 700)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_SHOE_NOUNS)),
    )
    box_colour = str(rng.choice(list(CONTAINER_PALETTE)))
    box = ShoeboxTruth(
        inner_half=(
            float(shoe.length / 2 + rng.uniform(0.015, 0.025)),
            float(shoe.width / 2 + rng.uniform(0.02, 0.03)),
        ),
        wall_height=float(rng.uniform(0.04, 0.07)),
        wall_thickness=float(rng.uniform(0.005, 0.01)),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=box_colour,
        rgba=tuple(jitter_colour(CONTAINER_PALETTE[box_colour], rng, 0.04)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_BOX_NOUNS)),
    )
    d_shape = str(rng.choice(["block", "ball"]))
    if d_shape == "ball":
        r = rng.uniform(0.02, 0.03)
        d_half = (r, r * rng.uniform(0.8, 1.0), r * rng.uniform(0.7, 0.9))
    else:
        d_half = (rng.uniform(0.015, 0.03), rng.uniform(0.015, 0.03), rng.uniform(0.012, 0.03))
    distractor = DistractorTruth(
        shape=d_shape,
        half_size=tuple(float(v) for v in d_half),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=str(colours[1]),
        rgba=tuple(jitter_colour(PALETTE[str(colours[1])], rng)),
        density=float(rng.uniform(150, 1000)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_DISTRACTOR_NOUNS[d_shape])),
    )
    side = rng.choice([-1.0, 1.0])
    shoe_r = float(np.hypot(shoe.length, shoe.width) / 2)
    for _ in range(2000):
        box_r = box.footprint_radius
        box_xy = (rng.uniform(-0.06, 0.17 - box_r * 0.8), side * rng.uniform(0.1, 0.25 - box_r * 0.7))
        d_r = distractor.footprint_radius
        shoe_xy = (rng.uniform(-0.15 + shoe_r, 0.17 - shoe_r), -side * rng.uniform(0.0, 0.25 - shoe_r))
        d_xy = (rng.uniform(-0.15 + d_r, 0.17 - d_r), rng.uniform(-0.25 + d_r, 0.25 - d_r))
        placed = [(box_xy, box_r), (shoe_xy, shoe_r), (d_xy, d_r)]
        if _separated(placed, 0.03) and _box_inside_workspace(box, box_xy):
            break
    else:  # pragma: no cover - the ranges above always admit a layout
        raise RuntimeError(f"shoe world seed {seed}: could not place objects without overlap")
    return ShoeLayout(
        seed=seed,
        shoe=replace(shoe, xy=tuple(map(float, shoe_xy))),
        box=replace(box, xy=tuple(map(float, box_xy))),
        distractor=replace(distractor, xy=tuple(map(float, d_xy))),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def _box_inside_workspace(box: ShoeboxTruth, xy) -> bool:
    hx, hy = box.inner_half[0] + box.wall_thickness, box.inner_half[1] + box.wall_thickness
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    corners = np.array([[x * c - y * s, x * s + y * c] for x in (-hx, hx) for y in (-hy, hy)]) + xy
    return bool(
        corners[:, 0].min() >= -0.15 and corners[:, 0].max() <= 0.17 and np.abs(corners[:, 1]).max() <= 0.25
    )


def prompt_for(layout: ShoeLayout, phrasing: int | None = None) -> str:
    template = _PHRASINGS[layout.phrasing if phrasing is None else phrasing % len(_PHRASINGS)]
    return template.format(obj=f"{layout.shoe.colour_name} {layout.shoe.noun}", box=layout.box.noun)


def _build_shoe(scene, shoe: ShoeTruth, name: str = "shoe"):
    builder = scene.create_actor_builder()
    add_convex_mesh(builder, shoe.mesh(), shoe.rgba, shoe.friction, shoe.density)
    # A darker sole band, visual only.
    sole = sapien.render.RenderMaterial(base_color=[0.12, 0.12, 0.12, 1.0])
    low = shoe.mesh().vertices
    low = low[low[:, 2] < 0.01] * [1.015, 1.015, 1.0]
    sole_mesh = trimesh.convex.convex_hull(np.vstack([low * [1, 1, 0], low * [1, 1, 0] + [0, 0, 0.006]]))
    builder.add_visual_from_file(mesh_file(sole_mesh), material=sole)
    builder.add_visual_from_file(mesh_file(shoe.opening_mesh()), material=sole)
    builder.initial_pose = sapien.Pose(p=[shoe.xy[0], shoe.xy[1], 0.0], q=euler2quat(0, 0, shoe.yaw))
    return builder.build(name=name)


def _build_distractor(scene, d: DistractorTruth, name: str = "distractor"):
    builder = scene.create_actor_builder()
    add_convex_mesh(builder, d.mesh(), d.rgba, d.friction, d.density)
    builder.initial_pose = sapien.Pose(p=[d.xy[0], d.xy[1], 0.0], q=euler2quat(0, 0, d.yaw))
    return builder.build(name=name)


def _build_box(scene, b: ShoeboxTruth, name: str = "shoebox"):
    builder = scene.create_actor_builder()
    render_mat = sapien.render.RenderMaterial(base_color=list(b.rgba))
    ix, iy = b.inner_half
    t, h = b.wall_thickness, b.wall_height
    parts = [
        ([0, 0, _FLOOR / 2], [ix + t, iy + t, _FLOOR / 2]),  # floor
        ([ix + t / 2, 0, h / 2], [t / 2, iy + t, h / 2]),
        ([-(ix + t / 2), 0, h / 2], [t / 2, iy + t, h / 2]),
        ([0, iy + t / 2, h / 2], [ix, t / 2, h / 2]),
        ([0, -(iy + t / 2), h / 2], [ix, t / 2, h / 2]),
    ]
    for p, half in parts:
        builder.add_box_collision(pose=sapien.Pose(p=p), half_size=half, material=material(b.friction))
        builder.add_box_visual(pose=sapien.Pose(p=p), half_size=half, material=render_mat)
    builder.initial_pose = sapien.Pose(p=[b.xy[0], b.xy[1], 0.0], q=euler2quat(0, 0, b.yaw))
    return builder.build_kinematic(name=name)


@register_env(ENV_ID, max_episode_steps=200)
class ShoeWorldEnv(TabletopEnv):
    __doc__ = __doc__

    def __init__(self, *args, world_seed: int = 0, reset_jitter_m: float = 0.003, **kwargs):
        self.layout = sample_layout(world_seed)
        self.reset_jitter_m = reset_jitter_m
        self._shoe_points = np.asarray(self.layout.shoe.mesh().vertices)
        super().__init__(*args, **kwargs)

    def _build_objects(self) -> None:
        from mani_skill.utils.scene_builder.table import TableSceneBuilder

        self.table_scene = TableSceneBuilder(self, robot_init_qpos_noise=0.0)
        self.table_scene.build()
        self.target_object = _build_shoe(self.scene, self.layout.shoe)
        self.distractor = _build_distractor(self.scene, self.layout.distractor)
        self.shoebox = _build_box(self.scene, self.layout.box)

    def _place_objects(self, env_idx: torch.Tensor) -> None:
        rng = self._batched_episode_rng[0] if self._batched_episode_rng is not None else np.random
        for actor, obj in ((self.target_object, self.layout.shoe), (self.distractor, self.layout.distractor)):
            dx, dy = rng.normal(0.0, self.reset_jitter_m, 2) if self.reset_jitter_m > 0 else (0.0, 0.0)
            p = torch.tensor([[obj.xy[0] + dx, obj.xy[1] + dy, 0.0]], dtype=torch.float32)
            q = torch.tensor(np.asarray([euler2quat(0, 0, obj.yaw)]), dtype=torch.float32)
            actor.set_pose(Pose.create_from_pq(p, q))
            actor.set_linear_velocity(torch.zeros((1, 3)))
            actor.set_angular_velocity(torch.zeros((1, 3)))

    def shoe_points_world(self) -> np.ndarray:
        raw = self.target_object.pose.raw_pose[0].cpu().numpy().astype(np.float64)
        return self._shoe_points @ quat2mat(raw[3:]).T + raw[:3]

    def points_in_box_frame(self, points_world: np.ndarray) -> np.ndarray:
        b = self.layout.box
        c, s = np.cos(-b.yaw), np.sin(-b.yaw)
        d = points_world[:, :2] - np.asarray(b.xy)
        return np.column_stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1], points_world[:, 2]])

    def evaluate(self):
        local = self.points_in_box_frame(self.shoe_points_world())
        footprint = bool(np.all(np.abs(local[:, :2]) <= np.asarray(self.layout.box.inner_half) + 0.003))
        inside = footprint and float(local[:, 2].min()) < self.layout.box.wall_height
        grasped = bool(self.agent.is_grasping(self.target_object)[0])
        success = inside and not grasped
        return {
            "success": torch.tensor([success]),
            "inside": torch.tensor([inside]),
            "grasped": torch.tensor([grasped]),
        }

    def target_points_local(self) -> np.ndarray:
        return self._shoe_points

    def truth(self) -> dict:
        """Hidden truth for scoring: layout with masses."""
        d = self.layout.to_dict()
        d["shoe"]["mass"] = self.layout.shoe.mass
        d["distractor"]["mass"] = self.layout.distractor.mass
        return d


_WRIST_LIMIT = 2.8973  # Panda joint 7 range is +-2.8973 rad


def _rz(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _wrap_half_turn(angle: float) -> float:
    """An angle modulo π, in [-π/2, π/2): a parallel grasp (and a box-like object) is the same either way round."""
    return float((angle + np.pi / 2) % np.pi - np.pi / 2)


def _wrist_safe(env, R_des: np.ndarray, margin: float = 0.25) -> np.ndarray:
    """Of the two half-turn twins of a fingers-down TCP rotation, the one the wrist can reach: the nearer
    twin unless it would drive joint 7 past its limit (turning the TCP by +a about world z turns joint 7 by
    about -a, measured on ManiSkill 3.0.1's Panda). Use with ``Move(symmetric=False)``."""
    from physworld_core.world.scripted import tcp_pose

    q7 = float(env.agent.robot.get_qpos()[0, 6])
    R_cur = tcp_pose(env)[1]

    def turn(R: np.ndarray) -> float:
        dR = R @ R_cur.T
        return float(np.arctan2(dR[1, 0], dR[0, 0]))

    twins = (R_des, R_des @ _rz(np.pi))
    return min(twins, key=lambda R: (abs(q7 - turn(R)) > _WRIST_LIMIT - margin, abs(turn(R))))


def _square_to(env, actor, goal_yaw: float):
    """TCP rotation (a callable) that turns a held object, as it actually sits in the hand, until its frame's
    x axis lies along ``goal_yaw`` (either way round)."""
    from physworld_core.world.scripted import actor_pose, tcp_pose

    def rotation() -> np.ndarray:
        R_obj = actor_pose(actor)[1]
        turn = _wrap_half_turn(goal_yaw - np.arctan2(R_obj[1, 0], R_obj[0, 0]))
        return _wrist_safe(env, _rz(turn) @ tcp_pose(env)[1])

    return rotation


def oracle(env: ShoeWorldEnv):
    """Grasp across the shoe's width over its middle (palm clear of the heel), lift it over the rim, turn it
    lengthwise to the box, servo its centre over the box's centre, lower it to just above the floor (fingers
    never below the rim), let go."""
    from functools import partial

    from physworld_core.world.scripted import (
        CLOSED,
        OPEN,
        Grip,
        Move,
        Script,
        actor_pose,
        down_rotation,
        tcp_pose,
    )

    shoe, box = env.layout.shoe, env.layout.box
    move = partial(Move, symmetric=False)  # rotations below are already the twin the wrist can reach
    top = float(env.target_points_local()[:, 2].max())
    # TCP height above the sole: the palm (3.7 cm above the TCP) clears the heel, fingertips clear the table.
    grasp_dz = max(0.016, top - 0.03)
    pick_R = lambda: _wrist_safe(env, down_rotation(shoe.yaw + np.pi / 2))  # close across the width
    place_R = _square_to(env, env.target_object, box.yaw)  # shoe lengthwise along the box (its long side)
    centre = lambda: actor_pose(env.target_object)[0] + [0, 0, grasp_dz]
    carry_dz = box.wall_height + 0.03  # sole height while carrying
    # Release with the fingertips (9.5 mm below the TCP) above the rim, or the sole just above the floor.
    release_dz = max(_FLOOR + 0.008, box.wall_height + 0.004 + 0.0095 - grasp_dz)

    def servo(sole_z: float):
        """TCP target that brings the shoe's centre over the box's centre with its sole at ``sole_z``."""

        def target():
            return tcp_pose(env)[0] + np.r_[box.xy, sole_z] - actor_pose(env.target_object)[0]

        return target

    start_z = lambda: max(tcp_pose(env)[0][2], centre()[2] + 0.08)
    return Script(
        env,
        [
            move(lambda: np.r_[centre()[:2], start_z()], pick_R, tol=0.02),
            move(lambda: centre() + [0, 0, 0.08], pick_R, tol=0.01),
            move(centre, pick_R, tol=0.005, max_step=0.02),
            Grip(CLOSED, 12),
            move(
                lambda: np.r_[tcp_pose(env)[0][:2], carry_dz + grasp_dz + 0.02],
                pick_R,
                gripper=CLOSED,
                tol=0.02,
            ),
            move(servo(carry_dz), place_R, gripper=CLOSED, tol=0.01),
            move(servo(carry_dz), place_R, gripper=CLOSED, tol=0.004, max_step=0.02, follow=True, timeout=40),
            move(
                servo(release_dz), place_R, gripper=CLOSED, tol=0.004, max_step=0.02, follow=True, timeout=40
            ),
            Grip(OPEN, 10),
            move(lambda: tcp_pose(env)[0] + [0, 0, 0.08], tol=0.02),
        ],
    )


FAMILY = register_family(
    WorldFamily(
        name="shoe",
        env_id=ENV_ID,
        sample_layout=sample_layout,
        prompt_for=prompt_for,
        num_phrasings=len(_PHRASINGS),
        oracle=oracle,
    )
)
