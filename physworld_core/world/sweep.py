"""Family "sweep": sweep scraps into a dustpan with a brush.

**Task Description:**
A Panda must pick up a hand brush by its handle, bring its head down behind a few small scraps lying on the
table, and push them over the dustpan's low lip into the pan. The dustpan lies flat with its open side facing
the scraps; it is fixed to the table.

**Randomizations (all from the world seed):**
- brush head width, depth and height, handle length, width and height; brush colour, yaw and position;
- number of scraps (3–6), each a small box or puck of random size and colour, scattered in front of the
  dustpan's mouth;
- dustpan inner width and depth, floor thickness, lip (ramp) length, wall height and thickness, colour,
  position and the direction its mouth faces;
- true densities (brush 200–900 kg/m³, scraps 80–500 kg/m³) and frictions (0.5–1.2) of every object;
- per trial (episode seed): a few millimetres of reset jitter of the brush and the scraps.

**Success Conditions:**
- at least two thirds of the scraps (rounded up) have their centre inside the dustpan: within its inner
  walls and beyond the top of its lip (in the dustpan frame), and below the top of its walls.
  Holding the brush at the end is allowed (a person sweeping keeps the brush in hand).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import sapien
import torch
import trimesh
from mani_skill.utils.registration import register_env
from mani_skill.utils.structs.pose import Pose
from transforms3d.euler import euler2quat

from physworld_core.sim.base_env import TabletopEnv
from physworld_core.world.palette import CONTAINER_PALETTE, PALETTE, jitter_colour
from physworld_core.world.registry import WorldFamily, register_family
from physworld_core.world.shapes import add_convex_mesh, rounded_box

ENV_ID = "PhysWorld-Sweep-v0"
_NOUNS = ("brush", "hand brush", "sweeping brush")
_SCRAP_NOUNS = ("scraps", "bits", "crumbs", "pieces")
_PAN_NOUNS = ("dustpan", "dust pan")
_PHRASINGS = (
    "sweep the {scraps} into the {pan} with the {brush}",
    "use the {brush} to sweep the {scraps} into the {pan}",
    "brush the {scraps} into the {pan} using the {brush}",
    "pick up the {brush} and push the {scraps} into the {pan}",
)
_X_RANGE, _Y_RANGE = (-0.15, 0.17), (-0.25, 0.25)
_SUCCESS_FRACTION = 2 / 3


@dataclass(frozen=True)
class BrushTruth:
    """A hand brush lying on the table: a wide head (origin at the centre of its bottom face, front face
    towards +x) and a handle block behind it along -x, both resting on the table."""

    head_width: float  # along y
    head_depth: float  # along x
    head_height: float
    handle_length: float
    handle_width: float
    handle_height: float
    xy: tuple[float, float]
    yaw: float  # direction the head faces
    colour_name: str
    rgba: tuple[float, ...]
    density: float
    friction: float
    noun: str

    @property
    def handle_centre(self) -> np.ndarray:
        """Centre of the handle block (actor frame); it overlaps the head's back by 1 mm."""
        return np.array([-self.head_depth / 2 - self.handle_length / 2 + 0.001, 0.0, self.handle_height / 2])

    def grasp_point(self, fraction: float = 0.6) -> np.ndarray:
        """A point on the handle's axis, ``fraction`` of the way from the head to its end, near its top."""
        x = -self.head_depth / 2 - fraction * self.handle_length
        return np.array([x, 0.0, max(self.handle_height - 0.012, 0.5 * self.handle_height)])

    @property
    def mass(self) -> float:
        head = self.head_width * self.head_depth * self.head_height
        handle = self.handle_length * self.handle_width * self.handle_height
        return float(self.density * (head + handle))

    def outline_local(self) -> np.ndarray:
        hd, hw = self.head_depth / 2, self.head_width / 2
        back = -self.head_depth / 2 - self.handle_length
        return np.array(
            [
                [hd, hw],
                [hd, -hw],
                [-hd, hw],
                [-hd, -hw],
                [back, self.handle_width / 2],
                [back, -self.handle_width / 2],
            ]
        )


@dataclass(frozen=True)
class ScrapTruth:
    shape: str  # "box" | "cylinder" (an upright puck)
    half_size: tuple[float, float, float]  # cylinder: (radius, radius, half_height)
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    density: float
    friction: float

    @property
    def radius(self) -> float:
        return float(np.hypot(self.half_size[0], self.half_size[1]))

    @property
    def mass(self) -> float:
        hx, hy, hz = self.half_size
        volume = np.pi * hx * hx * 2 * hz if self.shape == "cylinder" else 8 * hx * hy * hz
        return float(self.density * volume)


@dataclass(frozen=True)
class DustpanTruth:
    """A dustpan fixed on the table. Frame: origin on the table at the middle of the mouth (the top edge of
    the lip), +x into the pan (towards its back wall)."""

    inner_width: float
    depth: float  # mouth to back wall
    floor_thickness: float
    lip_length: float  # the ramp from the table up to the floor, in front of the mouth (-x)
    wall_height: float  # at the back wall; side walls taper to 40 % of it at the mouth
    wall_thickness: float
    xy: tuple[float, float]
    yaw: float  # direction from the mouth into the pan
    colour_name: str
    rgba: tuple[float, ...]
    friction: float
    noun: str

    def outline_local(self) -> np.ndarray:
        w = self.inner_width / 2 + self.wall_thickness
        x0, x1 = -self.lip_length, self.depth + self.wall_thickness
        return np.array([[x0, -w], [x0, w], [x1, w], [x1, -w]])


@dataclass(frozen=True)
class SweepLayout:
    seed: int
    brush: BrushTruth
    scraps: tuple[ScrapTruth, ...]
    dustpan: DustpanTruth
    scrap_noun: str
    phrasing: int

    def to_dict(self) -> dict:
        return asdict(self)


def _rot2(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s], [s, c]])


def _to_world(local_xy: np.ndarray, xy, yaw: float) -> np.ndarray:
    return np.asarray(local_xy) @ _rot2(yaw).T + np.asarray(xy)


def _to_local(world_xy: np.ndarray, xy, yaw: float) -> np.ndarray:
    return (np.asarray(world_xy) - np.asarray(xy)) @ _rot2(yaw)


def _in_workspace(points_xy: np.ndarray, margin: float = 0.005) -> bool:
    p = np.atleast_2d(points_xy)
    return bool(
        np.all(p[:, 0] >= _X_RANGE[0] + margin)
        and np.all(p[:, 0] <= _X_RANGE[1] - margin)
        and np.all(p[:, 1] >= _Y_RANGE[0] + margin)
        and np.all(p[:, 1] <= _Y_RANGE[1] - margin)
    )


def _convex_polygons_apart(a: np.ndarray, b: np.ndarray, gap: float) -> bool:
    """Are two convex point sets in the plane at least ``gap`` apart (separating axis, sampled directions)?"""
    for theta in np.linspace(0, np.pi, 36, endpoint=False):
        n = np.array([np.cos(theta), np.sin(theta)])
        pa, pb = a @ n, b @ n
        if pa.max() + gap < pb.min() or pb.max() + gap < pa.min():
            return True
    return False


def _sample_scrap(rng: np.random.Generator, avoid: str) -> ScrapTruth:
    shape = str(rng.choice(["box", "cylinder"]))
    if shape == "box":
        half = (rng.uniform(0.007, 0.012), rng.uniform(0.007, 0.012), rng.uniform(0.007, 0.011))
    else:
        r = rng.uniform(0.008, 0.012)
        half = (r, r, rng.uniform(0.007, 0.011))
    colour = str(rng.choice([c for c in PALETTE if c != avoid]))  # never the brush's colour
    return ScrapTruth(
        shape=shape,
        half_size=tuple(float(v) for v in half),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=colour,
        rgba=tuple(jitter_colour(PALETTE[colour], rng, 0.08)),
        density=float(rng.uniform(80, 500)),
        friction=float(rng.uniform(0.5, 1.2)),
    )


def sample_layout(seed: int) -> SweepLayout:
    """Draw a world from its seed: a dustpan facing a lane of scraps, the brush elsewhere; rejection-samples
    until nothing overlaps and everything is on the reachable, visible part of the table."""
    rng = np.random.default_rng(seed)
    brush_colour = str(rng.choice(list(PALETTE)))
    pan_colour = str(rng.choice(list(CONTAINER_PALETTE)))
    head_width = float(rng.uniform(0.075, 0.1))
    brush = BrushTruth(
        head_width=head_width,
        head_depth=float(rng.uniform(0.022, 0.032)),
        head_height=float(rng.uniform(0.022, 0.032)),
        handle_length=float(rng.uniform(0.07, 0.1)),
        handle_width=float(rng.uniform(0.018, 0.026)),
        handle_height=float(rng.uniform(0.03, 0.04)),
        xy=(0.0, 0.0),
        yaw=0.0,
        colour_name=brush_colour,
        rgba=tuple(jitter_colour(PALETTE[brush_colour], rng, 0.04)),
        density=float(rng.uniform(200, 900)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_NOUNS)),
    )
    pan = DustpanTruth(
        inner_width=float(head_width + rng.uniform(0.025, 0.045)),
        depth=float(rng.uniform(0.08, 0.11)),
        floor_thickness=float(rng.uniform(0.003, 0.005)),
        lip_length=float(rng.uniform(0.02, 0.03)),
        wall_height=float(rng.uniform(0.03, 0.045)),
        wall_thickness=float(rng.uniform(0.006, 0.009)),
        xy=(0.0, 0.0),
        yaw=0.0,
        colour_name=pan_colour,
        rgba=tuple(jitter_colour(CONTAINER_PALETTE[pan_colour], rng, 0.04)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_PAN_NOUNS)),
    )
    n_scraps = int(rng.integers(3, 7))
    scraps = [_sample_scrap(rng, brush_colour) for _ in range(n_scraps)]
    lane = 0.5 * head_width - 0.012  # scrap centres lie within the brush head's reach across the lane

    for _ in range(10000):
        # The lane runs roughly left-right (the long side of the workspace); the pan sits at one end.
        direction = float(rng.choice([-1.0, 1.0]) * np.pi / 2 + rng.uniform(-0.35, 0.35))
        d = np.array([np.cos(direction), np.sin(direction)])
        mouth = np.array([rng.uniform(-0.09, 0.13), 0.0]) + d * rng.uniform(-0.02, 0.08)
        pan_c = replace(pan, xy=tuple(map(float, mouth)), yaw=direction)
        pan_outline = _to_world(pan_c.outline_local(), mouth, direction)
        if not _in_workspace(pan_outline):
            continue
        placed: list[ScrapTruth] = []
        for scrap in scraps:
            for _ in range(100):
                s = rng.uniform(
                    pan.lip_length + scrap.radius + 0.012, pan.lip_length + 0.05 + 0.012 * n_scraps
                )
                lat = rng.uniform(-lane, lane)
                xy = mouth - d * s + _rot2(direction) @ np.array([0.0, lat])
                if all(np.hypot(*(xy - np.asarray(o.xy))) > scrap.radius + o.radius + 0.006 for o in placed):
                    placed.append(replace(scrap, xy=tuple(map(float, xy))))
                    break
        if len(placed) < n_scraps or not _in_workspace(np.array([p.xy for p in placed]), 0.02):
            continue
        # The stroke starts behind the farthest scrap: that stretch must stay on the table too.
        far = max(float(-(np.asarray(p.xy) - mouth) @ d) + p.radius for p in placed)
        start = mouth - d * (far + 0.03 + brush.head_depth)
        if not _in_workspace(start[None], 0.0):
            continue
        lane_outline = np.array(
            [mouth - d * (far + 0.05) + _rot2(direction) @ [0.0, s * (lane + 0.03)] for s in (-1, 1)]
            + [mouth + _rot2(direction) @ [0.0, s * (lane + 0.03)] for s in (-1, 1)]
        )
        for _ in range(40):
            yaw = direction + float(rng.uniform(-1.2, 1.2))
            bxy = np.array([rng.uniform(*_X_RANGE), rng.uniform(*_Y_RANGE)])
            b = replace(brush, xy=tuple(map(float, bxy)), yaw=yaw)
            brush_outline = _to_world(b.outline_local(), bxy, yaw)
            if (
                _in_workspace(brush_outline)
                and _convex_polygons_apart(brush_outline, pan_outline, 0.03)
                and _convex_polygons_apart(brush_outline, lane_outline, 0.02)
            ):
                break
        else:
            continue
        break
    else:  # pragma: no cover - the ranges above always admit a layout
        raise RuntimeError(f"sweep world seed {seed}: could not place objects without overlap")
    return SweepLayout(
        seed=seed,
        brush=b,
        scraps=tuple(placed),
        dustpan=pan_c,
        scrap_noun=str(rng.choice(_SCRAP_NOUNS)),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def prompt_for(layout: SweepLayout, phrasing: int | None = None) -> str:
    template = _PHRASINGS[layout.phrasing if phrasing is None else phrasing % len(_PHRASINGS)]
    return template.format(
        brush=f"{layout.brush.colour_name} {layout.brush.noun}",
        scraps=layout.scrap_noun,
        pan=layout.dustpan.noun,
    )


# --- geometry ---------------------------------------------------------------------------------------------
def _brush_meshes(b: BrushTruth) -> list[trimesh.Trimesh]:
    head = rounded_box([b.head_depth, b.head_width, b.head_height], 0.006)
    head.apply_translation([0, 0, b.head_height / 2])
    handle = rounded_box([b.handle_length, b.handle_width, b.handle_height], 0.007)
    handle.apply_translation(b.handle_centre)
    return [head, handle]


def brush_points_local(b: BrushTruth) -> np.ndarray:
    return np.vstack([m.vertices for m in _brush_meshes(b)])


def _prism(points_xz: np.ndarray, y0: float, y1: float) -> trimesh.Trimesh:
    """A convex prism from an (x, z) polygon extruded across y."""
    pts = [[x, y, z] for x, z in points_xz for y in (y0, y1)]
    return trimesh.convex.convex_hull(np.asarray(pts))


def _dustpan_meshes(p: DustpanTruth) -> list[trimesh.Trimesh]:
    w, t, f = p.inner_width / 2, p.wall_thickness, p.floor_thickness
    h_back, h_mouth = p.wall_height, 0.4 * p.wall_height
    floor = _prism(np.array([[0, 0], [p.depth + t, 0], [p.depth + t, f], [0, f]]), -w - t, w + t)
    lip = _prism(np.array([[-p.lip_length, 0], [0, 0], [0, f]]), -w - t, w + t)
    back = _prism(
        np.array([[p.depth, 0], [p.depth + t, 0], [p.depth + t, h_back], [p.depth, h_back]]), -w - t, w + t
    )
    side = np.array([[0, 0], [p.depth, 0], [p.depth, h_back], [0, h_mouth]])
    return [floor, lip, back, _prism(side, w, w + t), _prism(side, -w - t, -w)]


# --- env --------------------------------------------------------------------------------------------------
def _build_brush(scene, b: BrushTruth, name: str = "brush"):
    builder = scene.create_actor_builder()
    for mesh in _brush_meshes(b):
        add_convex_mesh(builder, mesh, b.rgba, b.friction, b.density)
    builder.initial_pose = sapien.Pose(p=[b.xy[0], b.xy[1], 0.0], q=euler2quat(0, 0, b.yaw))
    return builder.build(name=name)


def _scrap_mesh(s: ScrapTruth) -> trimesh.Trimesh:
    hx, hy, hz = s.half_size
    if s.shape == "cylinder":
        return trimesh.creation.cylinder(radius=hx, height=2 * hz, sections=16)
    return rounded_box([2 * hx, 2 * hy, 2 * hz], 0.003)


def _build_scrap(scene, s: ScrapTruth, name: str):
    builder = scene.create_actor_builder()
    add_convex_mesh(builder, _scrap_mesh(s), s.rgba, s.friction, s.density)
    builder.initial_pose = sapien.Pose(p=[s.xy[0], s.xy[1], s.half_size[2]], q=euler2quat(0, 0, s.yaw))
    return builder.build(name=name)


def _build_dustpan(scene, p: DustpanTruth, name: str = "dustpan"):
    builder = scene.create_actor_builder()
    for mesh in _dustpan_meshes(p):
        add_convex_mesh(builder, mesh, p.rgba, p.friction)
    builder.initial_pose = sapien.Pose(p=[p.xy[0], p.xy[1], 0.0], q=euler2quat(0, 0, p.yaw))
    return builder.build_kinematic(name=name)


@register_env(ENV_ID, max_episode_steps=300)
class SweepWorldEnv(TabletopEnv):
    __doc__ = __doc__

    def __init__(self, *args, world_seed: int = 0, reset_jitter_m: float = 0.003, **kwargs):
        self.layout = sample_layout(world_seed)
        self.reset_jitter_m = reset_jitter_m
        super().__init__(*args, **kwargs)

    def _build_objects(self) -> None:
        from mani_skill.utils.scene_builder.table import TableSceneBuilder

        self.table_scene = TableSceneBuilder(self, robot_init_qpos_noise=0.0)
        self.table_scene.build()
        self.target_object = self.brush = _build_brush(self.scene, self.layout.brush)
        self.scraps = [_build_scrap(self.scene, s, f"scrap_{i}") for i, s in enumerate(self.layout.scraps)]
        self.dustpan = _build_dustpan(self.scene, self.layout.dustpan)

    def _place_objects(self, env_idx: torch.Tensor) -> None:
        rng = self._batched_episode_rng[0] if self._batched_episode_rng is not None else np.random
        items = [(self.brush, self.layout.brush.xy, self.layout.brush.yaw, 0.0)]
        items += [(a, s.xy, s.yaw, s.half_size[2]) for a, s in zip(self.scraps, self.layout.scraps)]
        for actor, xy, yaw, z in items:
            dx, dy = rng.normal(0.0, self.reset_jitter_m, 2) if self.reset_jitter_m > 0 else (0.0, 0.0)
            p = torch.tensor([[xy[0] + dx, xy[1] + dy, z]], dtype=torch.float32)
            q = torch.tensor(np.asarray([euler2quat(0, 0, yaw)]), dtype=torch.float32)
            actor.set_pose(Pose.create_from_pq(p, q))
            actor.set_linear_velocity(torch.zeros((1, 3)))
            actor.set_angular_velocity(torch.zeros((1, 3)))

    def scraps_in_pan(self) -> np.ndarray:
        """Per scrap: is its centre inside the dustpan (inner walls, past the lip, below the wall tops)?"""
        p = self.layout.dustpan
        centres = np.stack([a.pose.p[0].cpu().numpy() for a in self.scraps]).astype(np.float64)
        local = _to_local(centres[:, :2], p.xy, p.yaw)
        return (
            (local[:, 0] >= 0.0)
            & (local[:, 0] <= p.depth)
            & (np.abs(local[:, 1]) <= p.inner_width / 2)
            & (centres[:, 2] < p.floor_thickness + p.wall_height)
        )

    def evaluate(self):
        inside = self.scraps_in_pan()
        needed = math.ceil(_SUCCESS_FRACTION * len(inside) - 1e-9)
        success = int(inside.sum()) >= needed
        return {
            "success": torch.tensor([success]),
            "scraps_inside": torch.tensor([int(inside.sum())]),
            "grasped": torch.tensor([bool(self.agent.is_grasping(self.brush)[0])]),
        }

    def target_points_local(self) -> np.ndarray:
        return brush_points_local(self.layout.brush)

    def truth(self) -> dict:
        """Hidden truth for scoring: layout with masses."""
        d = self.layout.to_dict()
        d["brush"]["mass"] = self.layout.brush.mass
        for s, truth in zip(d["scraps"], self.layout.scraps):
            s["mass"] = truth.mass
        return d


# --- oracle -----------------------------------------------------------------------------------------------
def _wrap(a: float) -> float:
    return float((a + np.pi) % (2 * np.pi) - np.pi)


def oracle(env: SweepWorldEnv):
    """Grasp the handle from above (of the two equivalent finger orders, the one that keeps the wrist
    furthest from its joint limit after the turn), lift, turn the head towards the dustpan and put it down
    behind the scraps, push along the lane until the head is inside the pan, lift away.

    Brush targets become TCP targets through the grip measured after the lift (the brush may have shifted in
    the fingers), so the head, not the gripper, follows the lane."""
    from transforms3d.euler import euler2mat

    from physworld_core.world.scripted import CLOSED, Grip, Move, Script, actor_pose, down_rotation, tcp_pose

    b, p = env.layout.brush, env.layout.dustpan
    d = np.array([np.cos(p.yaw), np.sin(p.yaw)])
    mouth = np.asarray(p.xy)
    far = max(float(-(np.asarray(s.xy) - mouth) @ d) + s.radius for s in env.layout.scraps)
    hover = p.floor_thickness + 0.004  # head bottom during the stroke: clears the lip, catches every scrap

    # Grasp yaw: across the handle; choose the finger order whose yaw after the turn stays near the start.
    _, R0 = tcp_pose(env)
    yaw0 = float(np.arctan2(R0[1, 1], R0[0, 1]))  # closing axis (TCP y) at the start
    turn = _wrap(p.yaw - b.yaw)
    options = [b.yaw + np.pi / 2, b.yaw - np.pi / 2]
    grasp_yaw = min(options, key=lambda g: max(abs(_wrap(g - yaw0)), abs(_wrap(g - yaw0) + turn)))
    grasp_yaw = yaw0 + _wrap(grasp_yaw - yaw0)
    R_grasp = down_rotation(grasp_yaw)
    R_sweep = euler2mat(0, 0, turn) @ R_grasp
    grasp = lambda: actor_pose(env.brush)[0] + actor_pose(env.brush)[1] @ b.grasp_point()

    def tcp_for(head_xy: np.ndarray, head_z: float):
        """TCP target that puts the brush origin (head bottom centre) at ``head_xy, head_z`` facing the pan."""

        def target() -> np.ndarray:
            bp, bR = actor_pose(env.brush)
            tcp, _ = tcp_pose(env)
            rel = bR.T @ (tcp - bp)  # TCP in the brush frame, as held now
            Rd = euler2mat(0, 0, p.yaw) @ _level(bR)
            return np.r_[head_xy, head_z] + Rd @ rel

        return target

    start = mouth - d * (far + 0.025 + b.head_depth / 2)
    end = mouth + d * (p.depth - 0.5 * b.head_depth - 0.02)
    return Script(
        env,
        [
            Move(lambda: grasp() + [0, 0, 0.07], R_grasp, tol=0.015, symmetric=False),
            Move(grasp, R_grasp, tol=0.005, max_step=0.02, symmetric=False),
            Grip(CLOSED, 12),
            Move(
                lambda: tcp_pose(env)[0] + [0, 0, 0.06], R_grasp, gripper=CLOSED, tol=0.015, symmetric=False
            ),
            Move(tcp_for(start, 0.05), R_sweep, gripper=CLOSED, tol=0.01, symmetric=False, timeout=80),
            Move(tcp_for(start, 0.05), R_sweep, gripper=CLOSED, tol=0.005, symmetric=False, timeout=40),
            Move(tcp_for(start, hover), R_sweep, gripper=CLOSED, tol=0.004, max_step=0.02, symmetric=False),
            Move(tcp_for(end, hover), R_sweep, gripper=CLOSED, tol=0.006, max_step=0.012, symmetric=False),
            Move(lambda: tcp_pose(env)[0] + [0, 0, 0.08], R_sweep, gripper=CLOSED, tol=0.02, symmetric=False),
        ],
    )


def _level(R: np.ndarray) -> np.ndarray:
    """The brush's rotation with its yaw removed (whatever tilt it has in the grip)."""
    from transforms3d.euler import euler2mat

    yaw = float(np.arctan2(R[1, 0], R[0, 0]))
    return euler2mat(0, 0, -yaw) @ R


FAMILY = register_family(
    WorldFamily(
        name="sweep",
        env_id=ENV_ID,
        sample_layout=sample_layout,
        prompt_for=prompt_for,
        num_phrasings=len(_PHRASINGS),
        oracle=oracle,
    )
)
