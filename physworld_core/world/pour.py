"""Family "pour": pour the balls from a cup into a bowl.

**Task Description:**
A cup standing on the table holds a few small balls. A Panda must pick the cup up, bring it over a bowl and
tip it so that the balls fall into the bowl, without dropping the cup into the bowl. The bowl is fixed to
the table.

**Randomizations (all from the world seed):**
- cup inner radius, wall and floor thickness, height, colour, position;
- number of balls (4–8), their radius (8–10 mm) and colour; they start at rest on the cup's floor (a ring
  against the wall, one in the middle if it fits);
- bowl inner radius, wall height and thickness, colour and position (anywhere on the table, clear of the
  cup);
- true densities (cup 300–1500 kg/m³, balls 500–3000 kg/m³) and frictions (0.5–1.2) of every object;
- per trial (episode seed): a few millimetres of reset jitter of the cup (with its balls).

**Success Conditions:**
- at least 75 % of the balls (rounded up) are in the bowl: centre within its inner radius and below its
  rim, and
- the cup is not in the bowl (it was not dropped onto the balls): its lowest point is above the bowl's rim
  or its centre is outside the bowl's footprint. Whether the cup is still held does not matter: pouring is
  done once the balls are in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sapien
from mani_skill.utils.registration import register_env
from transforms3d.axangles import axangle2mat
from transforms3d.euler import euler2quat

from physworld_core.sim.base_env import actor_points_world
from physworld_core.world.base import WorldEnv
from physworld_core.world.layout import (
    WORKSPACE_X,
    WORKSPACE_Y,
    Record,
    colour_noun,
    pack_balls,
    phrase,
    placed_at,
    rejection_sample,
)
from physworld_core.world.palette import CONTAINER_PALETTE, PALETTE, jitter_colour
from physworld_core.world.registry import WorldFamily, register_family
from physworld_core.world.scripted import CLOSED, Grip, Move, Script, actor_pose, down_rotation, tcp_pose
from physworld_core.world.shapes import (
    add_open_cylinder,
    build_actor,
    cylinder_rim_points,
    material,
    pose_on_table,
)

ENV_ID = "PhysWorld-Pour-v0"
_CUP_SEGMENTS, _BOWL_SEGMENTS = 12, 16
_NOUNS = ("cup", "mug", "beaker")
_BALL_NOUNS = ("balls", "marbles", "beads")
_BOWL_NOUNS = ("bowl", "dish", "basin")
_PHRASINGS = (
    "pour the {balls} from the {cup} into the {bowl}",
    "tip the {balls} out of the {cup} into the {bowl}",
    "empty the {cup} into the {bowl}",
    "pick up the {cup} and pour its {balls} into the {bowl}",
)
_SUCCESS_FRACTION = 0.75


@dataclass(frozen=True)
class CupTruth:
    """An open cup; origin at the centre of its bottom face."""

    inner_radius: float
    wall_thickness: float
    floor_thickness: float
    height: float
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    density: float
    friction: float
    noun: str

    @property
    def outer_radius(self) -> float:
        return self.inner_radius + self.wall_thickness

    @property
    def mass(self) -> float:
        r, ri = self.outer_radius, self.inner_radius
        return float(self.density * np.pi * (r * r * self.floor_thickness + (r * r - ri * ri) * self.height))


@dataclass(frozen=True)
class BallsTruth:
    """The balls in the cup: common radius, and their start centres in the cup frame."""

    radius: float
    centres_local: tuple[tuple[float, float, float], ...]
    colour_name: str
    rgba: tuple[float, ...]
    density: float
    friction: float
    noun: str

    @property
    def count(self) -> int:
        return len(self.centres_local)

    @property
    def mass(self) -> float:
        """Mass of one ball."""
        return float(self.density * 4 / 3 * np.pi * self.radius**3)


@dataclass(frozen=True)
class BowlTruth:
    inner_radius: float
    wall_thickness: float
    floor_thickness: float
    height: float
    xy: tuple[float, float]
    colour_name: str
    rgba: tuple[float, ...]
    friction: float
    noun: str

    @property
    def outer_radius(self) -> float:
        return self.inner_radius + self.wall_thickness


@dataclass(frozen=True)
class PourLayout(Record):
    seed: int
    cup: CupTruth
    balls: BallsTruth
    bowl: BowlTruth
    phrasing: int


def sample_layout(seed: int) -> PourLayout:
    """Draw a world from its seed; rejection-samples sizes so the balls fit and positions so nothing overlaps
    and everything is reachable."""
    rng = np.random.default_rng(seed)
    colours = rng.permutation(list(PALETTE))
    cup_colour, ball_colour = str(colours[0]), str(colours[1])
    bowl_colour = str(rng.choice(list(CONTAINER_PALETTE)))
    count = int(rng.integers(4, 9))

    def draw_cup():
        inner = float(rng.uniform(0.024, 0.032))
        wall = float(rng.uniform(0.004, 0.0055))
        floor = float(rng.uniform(0.005, 0.008))
        height = float(rng.uniform(0.065, 0.09))
        radius = float(rng.uniform(0.008, 0.010))
        centres = pack_balls(count, radius, inner, floor, rng)
        return None if centres is None else (inner, wall, floor, height, radius, centres)

    inner, wall, floor, height, radius, centres = rejection_sample(
        draw_cup, 5000, f"pour world seed {seed}: could not fit the balls in the cup"
    )
    cup = CupTruth(
        inner_radius=inner,
        wall_thickness=wall,
        floor_thickness=floor,
        height=height,
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=cup_colour,
        rgba=tuple(jitter_colour(PALETTE[cup_colour], rng, 0.04)),
        density=float(rng.uniform(300, 1500)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_NOUNS)),
    )
    balls = BallsTruth(
        radius=radius,
        centres_local=tuple(tuple(float(v) for v in c) for c in centres),
        colour_name=ball_colour,
        rgba=tuple(jitter_colour(PALETTE[ball_colour], rng, 0.04)),
        density=float(rng.uniform(500, 3000)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_BALL_NOUNS)),
    )
    bowl = BowlTruth(
        inner_radius=float(rng.uniform(0.06, 0.08)),
        wall_thickness=float(rng.uniform(0.006, 0.01)),
        floor_thickness=float(rng.uniform(0.005, 0.008)),
        height=float(rng.uniform(0.035, 0.055)),
        xy=(0.0, 0.0),
        colour_name=bowl_colour,
        rgba=tuple(jitter_colour(CONTAINER_PALETTE[bowl_colour], rng, 0.04)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_BOWL_NOUNS)),
    )
    lo, hi = np.array([WORKSPACE_X[0], WORKSPACE_Y[0]]), np.array([WORKSPACE_X[1], WORKSPACE_Y[1]])

    def draw_places():
        cup_xy = rng.uniform(lo + cup.outer_radius + 0.005, hi - cup.outer_radius - 0.005)
        bowl_xy = rng.uniform(lo + bowl.outer_radius + 0.005, hi - bowl.outer_radius - 0.005)
        apart = np.linalg.norm(bowl_xy - cup_xy) > cup.outer_radius + bowl.outer_radius + 0.04
        return (cup_xy, bowl_xy) if apart else None

    cup_xy, bowl_xy = rejection_sample(
        draw_places, 5000, f"pour world seed {seed}: could not place the cup and the bowl"
    )
    return PourLayout(
        seed=seed,
        cup=placed_at(cup, cup_xy),
        balls=balls,
        bowl=placed_at(bowl, bowl_xy),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def prompt_for(layout: PourLayout, phrasing: int | None = None) -> str:
    return phrase(
        _PHRASINGS,
        layout,
        phrasing,
        cup=colour_noun(layout.cup),
        balls=layout.balls.noun,
        bowl=layout.bowl.noun,
    )


# --- geometry ---------------------------------------------------------------------------------------------
def cup_points_local(c: CupTruth, sections: int = 24) -> np.ndarray:
    return cylinder_rim_points(c.outer_radius, 0.0, c.height, sections)


def _build_cup(scene, c: CupTruth, name: str = "cup"):
    builder = scene.create_actor_builder()
    add_open_cylinder(
        builder,
        c.inner_radius,
        c.wall_thickness,
        c.floor_thickness,
        c.height,
        c.rgba,
        c.friction,
        c.density,
        _CUP_SEGMENTS,
    )
    builder.initial_pose = pose_on_table(c.xy, 0.0, c.yaw)
    return build_actor(builder, name)


def _build_ball(scene, b: BallsTruth, name: str):
    builder = scene.create_actor_builder()
    builder.add_sphere_collision(radius=b.radius, material=material(b.friction), density=b.density)
    builder.add_sphere_visual(radius=b.radius, material=sapien.render.RenderMaterial(base_color=list(b.rgba)))
    builder.initial_pose = sapien.Pose(p=[0, 0, b.radius])
    return build_actor(builder, name)


def _build_bowl(scene, b: BowlTruth, name: str = "bowl"):
    builder = scene.create_actor_builder()
    add_open_cylinder(
        builder,
        b.inner_radius,
        b.wall_thickness,
        b.floor_thickness,
        b.height,
        b.rgba,
        b.friction,
        500.0,
        _BOWL_SEGMENTS,
    )
    builder.initial_pose = pose_on_table(b.xy)
    return build_actor(builder, name, kinematic=True)


# --- env --------------------------------------------------------------------------------------------------
@register_env(ENV_ID, max_episode_steps=300)
class PourWorldEnv(WorldEnv):
    __doc__ = __doc__
    sample_layout = staticmethod(sample_layout)
    MASSES = ("cup",)

    def _build_world(self) -> None:
        self.target_object = self.cup = _build_cup(self.scene, self.layout.cup)
        self.balls = [
            _build_ball(self.scene, self.layout.balls, f"ball_{i}") for i in range(self.layout.balls.count)
        ]
        self.bowl = _build_bowl(self.scene, self.layout.bowl)

    def _place_objects(self, env_idx) -> None:
        c = self.layout.cup
        dx, dy = self._jitter()
        origin = np.array([c.xy[0] + dx, c.xy[1] + dy, 0.0])
        self._set_at_rest(self.cup, origin, euler2quat(0, 0, c.yaw))
        # The balls' packing is in a yaw-free cup frame: they go where the cup goes.
        for actor, centre in zip(self.balls, self.layout.balls.centres_local):
            self._set_at_rest(actor, origin + np.asarray(centre))

    def ball_centres(self) -> np.ndarray:
        return np.stack([a.pose.p[0].cpu().numpy() for a in self.balls]).astype(np.float64)

    def balls_in_bowl(self) -> np.ndarray:
        b = self.layout.bowl
        centres = self.ball_centres()
        return (np.hypot(centres[:, 0] - b.xy[0], centres[:, 1] - b.xy[1]) <= b.inner_radius) & (
            centres[:, 2] < b.height
        )

    def cup_in_bowl(self) -> bool:
        b = self.layout.bowl
        points = actor_points_world(self.cup, self._cup_points)
        centre = points.mean(0)
        over = float(np.hypot(centre[0] - b.xy[0], centre[1] - b.xy[1])) <= b.outer_radius
        return over and float(points[:, 2].min()) < b.height

    def goal_actor(self):
        return self.bowl

    def evaluate(self):
        inside = self.balls_in_bowl()
        needed = math.ceil(_SUCCESS_FRACTION * len(inside) - 1e-9)
        cup_in_bowl = self.cup_in_bowl()
        return self._evaluation(
            success=int(inside.sum()) >= needed and not cup_in_bowl,
            balls_in_bowl=int(inside.sum()),
            cup_in_bowl=cup_in_bowl,
            grasped=self.is_grasping_target(),
        )

    @cached_property
    def _cup_points(self) -> np.ndarray:
        return cup_points_local(self.layout.cup)

    def target_points_local(self) -> np.ndarray:
        return self._cup_points

    def truth(self) -> dict:
        """Hidden truth for scoring: layout with masses."""
        d = super().truth()
        d["balls"]["mass_each"] = self.layout.balls.mass
        return d


# --- oracle -----------------------------------------------------------------------------------------------
def oracle(env: PourWorldEnv):
    """Top grasp across the cup's rim (fingers closing across the pouring direction), lift over the bowl's
    rim, tilt about the fingers' closing axis while holding the cup's lip (the rim point facing the bowl)
    still above the bowl, wait for the balls to roll out between the rim and the palm."""
    c, b = env.layout.cup, env.layout.bowl
    # The pouring direction is free (the cup is carried to the bowl): pour across the table towards the
    # robot's midline, the one tilt the arm reaches everywhere over the table (measured: ~125° for any
    # bowl position, where pouring away from or towards the robot stalls at 40–100°).
    d2 = np.array([0.0, -1.0 if b.xy[1] > 0 else 1.0])
    d = np.r_[d2, 0.0]
    k = np.cross([0.0, 0.0, 1.0], d)  # tilting about k turns the cup's top towards d
    R_grasp = down_rotation(float(np.arctan2(d2[1], d2[0])) + np.pi / 2)
    # Of the two finger orders, the nearer one (the tilt is about a world axis, so either pours the same way).
    R0 = tcp_pose(env)[1]
    twin = R_grasp @ np.diag([-1.0, -1.0, 1.0])
    if np.trace(twin @ R0.T) > np.trace(R_grasp @ R0.T):
        R_grasp = twin
    grasp_z = c.height - 0.008  # fingertips just below the rim: the palm stays well above the mouth
    cup_top = lambda: np.r_[actor_pose(env.cup)[0][:2], grasp_z]
    lip_target = np.r_[np.asarray(b.xy) - 0.02 * d2, b.height + 0.07]
    clear_z = b.height + 0.015  # the cup's lowest point never goes lower than this over the bowl
    held: dict[str, np.ndarray] = {}

    def measure() -> np.ndarray:
        """The cup's lip (the rim point facing the bowl) and outline in the TCP frame, as the cup is held."""
        tcp, R = tcp_pose(env)
        cp, cR = actor_pose(env.cup)
        lip = cp + cR @ np.array([0, 0, c.height]) + c.outer_radius * d
        held["lip"] = R.T @ (lip - tcp)
        held["points"] = (env.target_points_local() @ cR.T + cp - tcp) @ R
        return tcp

    def pour_target(rise: float = 0.0):
        """TCP position (recomputed every step from the rotation reached so far) that keeps the lip ``rise``
        above its pouring point, and the whole cup above the bowl's rim."""

        def target() -> np.ndarray:
            if "lip" not in held:
                measure()
            R = tcp_pose(env)[1]
            lip = R @ held["lip"]
            low = float((held["points"] @ R.T)[:, 2].min())
            z = max(lip_target[2] + rise - lip[2], clear_z - low)
            return np.r_[lip_target[:2] - lip[:2], z]

        return target

    def lifted() -> np.ndarray:
        tcp = measure()
        return np.r_[tcp[:2], clear_z + 0.015 + grasp_z]

    tilted = lambda angle: axangle2mat(k, np.deg2rad(angle)) @ R_grasp
    return Script(
        env,
        [
            Move(lambda: cup_top() + [0, 0, 0.06], R_grasp, tol=0.015, symmetric=False),
            Move(cup_top, R_grasp, tol=0.005, max_step=0.02, symmetric=False),
            Grip(CLOSED, 12),
            Move(lifted, R_grasp, gripper=CLOSED, tol=0.015, symmetric=False),
            Move(pour_target(0.03), R_grasp, gripper=CLOSED, tol=0.01, follow=True, symmetric=False),
            Move(pour_target(), tilted(130), gripper=CLOSED, tol=0.008, follow=True, symmetric=False),
            Grip(CLOSED, 25),
        ],
    )


FAMILY = register_family(
    WorldFamily(
        name="pour",
        env_id=ENV_ID,
        sample_layout=sample_layout,
        prompt_for=prompt_for,
        num_phrasings=len(_PHRASINGS),
        oracle=oracle,
    )
)
