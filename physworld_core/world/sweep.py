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
from dataclasses import dataclass

import numpy as np
import trimesh
from mani_skill.utils.registration import register_env
from transforms3d.euler import euler2mat

from physworld_core.world.base import WorldEnv
from physworld_core.world.layout import (
    WORKSPACE_X,
    WORKSPACE_Y,
    Record,
    colour_noun,
    phrase,
    placed_at,
    points_in_workspace,
    rejection_sample,
    rotation_2d,
    to_local_xy,
    to_world_xy,
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
    rise_by,
    tcp_pose,
    wrap_angle,
)
from physworld_core.world.shapes import (
    build_convex_actor,
    pose_on_table,
    prism,
    rounded_box,
)

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
class SweepLayout(Record):
    seed: int
    brush: BrushTruth
    scraps: tuple[ScrapTruth, ...]
    dustpan: DustpanTruth
    scrap_noun: str
    phrasing: int


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

    def scatter_scraps(mouth: np.ndarray, d: np.ndarray, direction: float) -> list[ScrapTruth]:
        """Scraps in the lane in front of the mouth, apart from each other (a scrap with no room is left
        out, and the candidate rejected)."""
        placed: list[ScrapTruth] = []
        for scrap in scraps:
            for _ in range(100):
                s = rng.uniform(
                    pan.lip_length + scrap.radius + 0.012, pan.lip_length + 0.05 + 0.012 * n_scraps
                )
                lat = rng.uniform(-lane, lane)
                xy = mouth - d * s + rotation_2d(direction) @ np.array([0.0, lat])
                if all(np.hypot(*(xy - np.asarray(o.xy))) > scrap.radius + o.radius + 0.006 for o in placed):
                    placed.append(placed_at(scrap, xy))
                    break
        return placed

    def draw_brush(direction: float, keep_clear: list[tuple[np.ndarray, float]]) -> BrushTruth | None:
        """The brush roughly facing along the lane, anywhere on the table clear of the pan and the lane."""
        yaw = direction + float(rng.uniform(-1.2, 1.2))
        bxy = np.array([rng.uniform(*WORKSPACE_X), rng.uniform(*WORKSPACE_Y)])
        b = placed_at(brush, bxy, yaw=yaw)
        brush_outline = to_world_xy(b.outline_local(), bxy, yaw)
        ok = points_in_workspace(brush_outline, 0.005) and all(
            _convex_polygons_apart(brush_outline, outline, gap) for outline, gap in keep_clear
        )
        return b if ok else None

    def draw():
        # The lane runs roughly left-right (the long side of the workspace); the pan sits at one end.
        direction = float(rng.choice([-1.0, 1.0]) * np.pi / 2 + rng.uniform(-0.35, 0.35))
        d = np.array([np.cos(direction), np.sin(direction)])
        mouth = np.array([rng.uniform(-0.09, 0.13), 0.0]) + d * rng.uniform(-0.02, 0.08)
        pan_c = placed_at(pan, mouth, yaw=direction)
        pan_outline = to_world_xy(pan_c.outline_local(), mouth, direction)
        if not points_in_workspace(pan_outline, 0.005):
            return None
        placed = scatter_scraps(mouth, d, direction)
        if len(placed) < n_scraps or not points_in_workspace(np.array([p.xy for p in placed]), 0.02):
            return None
        # The stroke starts behind the farthest scrap: that stretch must stay on the table too.
        far = max(float(-(np.asarray(p.xy) - mouth) @ d) + p.radius for p in placed)
        start = mouth - d * (far + 0.03 + brush.head_depth)
        if not points_in_workspace(start[None], 0.0):
            return None
        lane_outline = np.array(
            [mouth - d * (far + 0.05) + rotation_2d(direction) @ [0.0, s * (lane + 0.03)] for s in (-1, 1)]
            + [mouth + rotation_2d(direction) @ [0.0, s * (lane + 0.03)] for s in (-1, 1)]
        )
        for _ in range(40):
            b = draw_brush(direction, [(pan_outline, 0.03), (lane_outline, 0.02)])
            if b is not None:
                return b, placed, pan_c
        return None

    b, placed, pan_c = rejection_sample(
        draw, 10000, f"sweep world seed {seed}: could not place objects without overlap"
    )
    return SweepLayout(
        seed=seed,
        brush=b,
        scraps=tuple(placed),
        dustpan=pan_c,
        scrap_noun=str(rng.choice(_SCRAP_NOUNS)),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def prompt_for(layout: SweepLayout, phrasing: int | None = None) -> str:
    return phrase(
        _PHRASINGS,
        layout,
        phrasing,
        brush=colour_noun(layout.brush),
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


def _dustpan_meshes(p: DustpanTruth) -> list[trimesh.Trimesh]:
    w, t, f = p.inner_width / 2, p.wall_thickness, p.floor_thickness
    h_back, h_mouth = p.wall_height, 0.4 * p.wall_height
    floor = prism(np.array([[0, 0], [p.depth + t, 0], [p.depth + t, f], [0, f]]), -w - t, w + t)
    lip = prism(np.array([[-p.lip_length, 0], [0, 0], [0, f]]), -w - t, w + t)
    back = prism(
        np.array([[p.depth, 0], [p.depth + t, 0], [p.depth + t, h_back], [p.depth, h_back]]), -w - t, w + t
    )
    side = np.array([[0, 0], [p.depth, 0], [p.depth, h_back], [0, h_mouth]])
    return [floor, lip, back, prism(side, w, w + t), prism(side, -w - t, -w)]


# --- env --------------------------------------------------------------------------------------------------
def _build_brush(scene, b: BrushTruth, name: str = "brush"):
    pose = pose_on_table(b.xy, 0.0, b.yaw)
    return build_convex_actor(scene, name, _brush_meshes(b), b.rgba, b.friction, pose, b.density)


def _scrap_mesh(s: ScrapTruth) -> trimesh.Trimesh:
    hx, hy, hz = s.half_size
    if s.shape == "cylinder":
        return trimesh.creation.cylinder(radius=hx, height=2 * hz, sections=16)
    return rounded_box([2 * hx, 2 * hy, 2 * hz], 0.003)


def _build_scrap(scene, s: ScrapTruth, name: str):
    pose = pose_on_table(s.xy, s.half_size[2], s.yaw)
    return build_convex_actor(scene, name, _scrap_mesh(s), s.rgba, s.friction, pose, s.density)


def _build_dustpan(scene, p: DustpanTruth, name: str = "dustpan"):
    pose = pose_on_table(p.xy, 0.0, p.yaw)
    return build_convex_actor(scene, name, _dustpan_meshes(p), p.rgba, p.friction, pose, kinematic=True)


@register_env(ENV_ID, max_episode_steps=300)
class SweepWorldEnv(WorldEnv):
    __doc__ = __doc__
    sample_layout = staticmethod(sample_layout)
    MASSES = ("brush",)

    def _build_world(self) -> None:
        self.target_object = self.brush = _build_brush(self.scene, self.layout.brush)
        self.scraps = [_build_scrap(self.scene, s, f"scrap_{i}") for i, s in enumerate(self.layout.scraps)]
        self.dustpan = _build_dustpan(self.scene, self.layout.dustpan)

    def _place_objects(self, env_idx) -> None:
        brush = self.layout.brush
        self._place_jittered(self.brush, brush.xy, 0.0, brush.yaw)
        for actor, s in zip(self.scraps, self.layout.scraps):
            self._place_jittered(actor, s.xy, s.half_size[2], s.yaw)

    def scraps_in_pan(self) -> np.ndarray:
        """Per scrap: is its centre inside the dustpan (inner walls, past the lip, below the wall tops)?"""
        p = self.layout.dustpan
        centres = np.stack([a.pose.p[0].cpu().numpy() for a in self.scraps]).astype(np.float64)
        local = to_local_xy(centres[:, :2], p.xy, p.yaw)
        return (
            (local[:, 0] >= 0.0)
            & (local[:, 0] <= p.depth)
            & (np.abs(local[:, 1]) <= p.inner_width / 2)
            & (centres[:, 2] < p.floor_thickness + p.wall_height)
        )

    def goal_actor(self):
        return self.dustpan

    def evaluate(self):
        inside = self.scraps_in_pan()
        needed = math.ceil(_SUCCESS_FRACTION * len(inside) - 1e-9)
        return self._evaluation(
            success=int(inside.sum()) >= needed,
            scraps_inside=int(inside.sum()),
            grasped=self.is_grasping_target(),
        )

    def target_points_local(self) -> np.ndarray:
        return brush_points_local(self.layout.brush)

    def truth(self) -> dict:
        """Hidden truth for scoring: layout with masses."""
        d = super().truth()
        for s, truth in zip(d["scraps"], self.layout.scraps):
            s["mass"] = truth.mass
        return d


# --- oracle -----------------------------------------------------------------------------------------------
def oracle(env: SweepWorldEnv):
    """Grasp the handle from above (of the two equivalent finger orders, the one that keeps the wrist
    furthest from its joint limit after the turn), lift, turn the head towards the dustpan and put it down
    behind the scraps, push along the lane until the head is inside the pan, lift away.

    Brush targets become TCP targets through the grip measured after the lift (the brush may have shifted in
    the fingers), so the head, not the gripper, follows the lane."""
    b, p = env.layout.brush, env.layout.dustpan
    d = np.array([np.cos(p.yaw), np.sin(p.yaw)])
    mouth = np.asarray(p.xy)
    far = max(float(-(np.asarray(s.xy) - mouth) @ d) + s.radius for s in env.layout.scraps)
    hover = p.floor_thickness + 0.004  # head bottom during the stroke: clears the lip, catches every scrap

    # Grasp yaw: across the handle; choose the finger order whose yaw after the turn stays near the start.
    _, R0 = tcp_pose(env)
    yaw0 = float(np.arctan2(R0[1, 1], R0[0, 1]))  # closing axis (TCP y) at the start
    turn = wrap_angle(p.yaw - b.yaw)
    options = [b.yaw + np.pi / 2, b.yaw - np.pi / 2]
    grasp_yaw = min(options, key=lambda g: max(abs(wrap_angle(g - yaw0)), abs(wrap_angle(g - yaw0) + turn)))
    grasp_yaw = yaw0 + wrap_angle(grasp_yaw - yaw0)
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
            rise_by(env, 0.06, R_grasp, gripper=CLOSED, tol=0.015, symmetric=False),
            Move(tcp_for(start, 0.05), R_sweep, gripper=CLOSED, tol=0.01, symmetric=False, timeout=80),
            Move(tcp_for(start, 0.05), R_sweep, gripper=CLOSED, tol=0.005, symmetric=False, timeout=40),
            Move(tcp_for(start, hover), R_sweep, gripper=CLOSED, tol=0.004, max_step=0.02, symmetric=False),
            Move(tcp_for(end, hover), R_sweep, gripper=CLOSED, tol=0.006, max_step=0.012, symmetric=False),
            rise_by(env, 0.08, R_sweep, gripper=CLOSED, tol=0.02, symmetric=False),
        ],
    )


def _level(R: np.ndarray) -> np.ndarray:
    """The brush's rotation with its yaw removed (whatever tilt it has in the grip)."""
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
