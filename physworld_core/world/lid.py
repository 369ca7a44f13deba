"""Family "lid": put the lid on the pot.

**Task Description:**
A Panda must pick the named lid (a domed disk with a knob) up from the table by its knob and lay it on an
open cooking pot so that it rests level on the pot's rim. A small distractor object stands elsewhere on the
table.

**Randomizations (all from the world seed):**
- pot inner radius, wall thickness, height, handle size, colour, yaw and position (left or right of the lid);
- lid overhang beyond the rim, thickness, dome height, knob shape (stem and head radii, height), colour,
  position; the lid is procedural (surfaces of revolution), collided as two convex hulls;
- distractor shape (jar or block), size, colour (never the lid's colour name), position;
- true density (lid 300–2500 kg/m³, distractor 150–1000 kg/m³) and friction (0.5–1.2) of every object;
- per trial (episode seed): a few millimetres of reset jitter of the movable objects.

**Success Conditions:**
- the lid's axis is within a tolerance of the pot's axis (never more than leaves the rim under the lid all
  round), the lid is level (tilt under 8°), its underside rests at rim height (within a few millimetres),
  and the lid is no longer held by the gripper.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sapien
import trimesh
from mani_skill.utils.registration import register_env

from physworld_core.world.base import WorldEnv
from physworld_core.world.layout import Record, colour_noun, phrase, placed_at, rejection_sample, separated
from physworld_core.world.palette import CONTAINER_PALETTE, PALETTE, jitter_colour
from physworld_core.world.registry import WorldFamily, register_family
from physworld_core.world.scripted import (
    CLOSED,
    OPEN,
    Grip,
    Move,
    Script,
    actor_pose,
    carry_to,
    down_rotation,
    grasp_from_above,
    lift_to,
    rise_by,
)
from physworld_core.world.shapes import (
    UPRIGHT_CYLINDER,
    add_ring_wall,
    build_actor,
    build_convex_actor,
    material,
    mesh_file,
    open_cylinder_profile,
    pose_on_table,
    revolve,
    rounded_box,
)

ENV_ID = "PhysWorld-Lid-v0"
_LID_NOUNS = ("lid", "pot lid", "cover")
_POT_NOUNS = ("pot", "cooking pot", "saucepan", "stockpot")
_DISTRACTOR_NOUNS = {"jar": ("jar", "spice jar"), "block": ("block", "sponge")}
_PHRASINGS = (
    "put the {obj} on the {pot}",
    "cover the {pot} with the {obj}",
    "place the {obj} on top of the {pot}",
    "pick up the {obj} and close the {pot} with it",
)
_FLOOR = 0.008  # pot floor thickness
_SEGMENTS = 16  # wall boxes of the pot


@dataclass(frozen=True)
class LidTruth:
    """A lid: flat underside at z = 0 of its actor frame, domed top, mushroom knob on the axis."""

    radius: float
    thickness: float  # at the rim
    dome: float  # extra height at the centre
    knob_stem: float  # stem radius
    knob_head: float  # head radius
    knob_height: float
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    density: float
    friction: float
    noun: str

    @property
    def knob_base(self) -> float:
        return self.thickness + self.dome

    @property
    def height(self) -> float:
        return self.knob_base + self.knob_height

    def disk_mesh(self) -> trimesh.Trimesh:
        r = np.linspace(self.radius, 0.0, 9)
        top = self.thickness + self.dome * (1.0 - (r / self.radius) ** 2)
        profile = np.vstack([[0.0, 0.0], [self.radius, 0.0], np.column_stack([r, top])])
        return revolve(profile, sections=40)

    def knob_mesh(self) -> trimesh.Trimesh:
        s, h, k = self.knob_stem, self.knob_head, self.knob_height
        profile = [
            (0.0, 0.0),
            (s, 0.0),
            (s, 0.45 * k),
            (h, 0.65 * k),
            (h, 0.85 * k),
            (0.8 * h, k),
            (0.0, k),
        ]
        mesh = revolve(np.array(profile), sections=24)
        mesh.apply_translation([0.0, 0.0, self.knob_base - 0.001])  # sunk a millimetre into the dome
        return mesh

    def volume(self) -> float:
        return float(self.disk_mesh().convex_hull.volume + self.knob_mesh().convex_hull.volume)

    @property
    def mass(self) -> float:
        return self.density * self.volume()


@dataclass(frozen=True)
class PotTruth:
    inner_radius: float
    wall_thickness: float
    height: float
    handle_length: float
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    friction: float
    noun: str

    @property
    def outer_radius(self) -> float:
        return self.inner_radius + self.wall_thickness

    @property
    def footprint_radius(self) -> float:
        return float(self.outer_radius + self.handle_length)


@dataclass(frozen=True)
class DistractorTruth:
    shape: str  # "jar" (surface of revolution) | "block" (rounded box)
    half_size: tuple[float, float, float]  # jar: (radius, radius, half_height)
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    density: float
    friction: float
    noun: str

    @property
    def footprint_radius(self) -> float:
        return float(np.hypot(self.half_size[0], self.half_size[1]))

    def mesh(self) -> trimesh.Trimesh:
        hx, hy, hz = self.half_size
        if self.shape == "jar":
            profile = [(0, 0), (hx, 0), (hx, 1.5 * hz), (0.7 * hx, 1.7 * hz), (0.7 * hx, 2 * hz), (0, 2 * hz)]
            mesh = revolve(np.array(profile), sections=24)
            mesh.apply_translation([0, 0, -hz])
            return mesh
        return rounded_box((2 * hx, 2 * hy, 2 * hz), 0.25 * min(hx, hy))

    @property
    def mass(self) -> float:
        return float(self.density * self.mesh().convex_hull.volume)


@dataclass(frozen=True)
class LidLayout(Record):
    seed: int
    lid: LidTruth
    pot: PotTruth
    distractor: DistractorTruth
    phrasing: int


def sample_layout(seed: int) -> LidLayout:
    """Draw a world from its seed; rejection-samples positions so nothing overlaps and all is reachable."""
    rng = np.random.default_rng(seed)
    colours = rng.permutation(list(PALETTE))
    pot_colour = str(rng.choice(list(CONTAINER_PALETTE)))
    pot = PotTruth(
        inner_radius=float(rng.uniform(0.045, 0.062)),
        wall_thickness=float(rng.uniform(0.006, 0.01)),
        height=float(rng.uniform(0.05, 0.09)),
        handle_length=float(rng.uniform(0.012, 0.022)),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=pot_colour,
        rgba=tuple(jitter_colour(CONTAINER_PALETTE[pot_colour], rng, 0.04)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_POT_NOUNS)),
    )
    lid = LidTruth(
        radius=float(pot.outer_radius + rng.uniform(0.006, 0.015)),
        thickness=float(rng.uniform(0.006, 0.011)),
        dome=float(rng.uniform(0.0, 0.01)),
        knob_stem=float(rng.uniform(0.007, 0.011)),
        knob_head=float(rng.uniform(0.012, 0.018)),
        knob_height=float(rng.uniform(0.022, 0.032)),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=str(colours[0]),
        rgba=tuple(jitter_colour(PALETTE[str(colours[0])], rng)),
        density=float(rng.uniform(300, 2500)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_LID_NOUNS)),
    )
    d_shape = str(rng.choice(["jar", "block"]))
    if d_shape == "jar":
        r = rng.uniform(0.018, 0.028)
        d_half = (r, r, rng.uniform(0.03, 0.05))
    else:
        d_half = (rng.uniform(0.015, 0.028), rng.uniform(0.015, 0.028), rng.uniform(0.015, 0.035))
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
    pot_r, lid_r, d_r = pot.footprint_radius, lid.radius, distractor.footprint_radius

    def draw():
        pot_xy = (rng.uniform(-0.15 + pot_r, 0.17 - pot_r), side * rng.uniform(0.09, 0.25 - pot_r))
        lid_xy = (rng.uniform(-0.15 + lid_r, 0.17 - lid_r), -side * rng.uniform(0.03, 0.25 - lid_r))
        d_xy = (rng.uniform(-0.15 + d_r, 0.17 - d_r), rng.uniform(-0.25 + d_r, 0.25 - d_r))
        placed = [(pot_xy, pot_r), (lid_xy, lid_r), (d_xy, d_r)]
        return (pot_xy, lid_xy, d_xy) if separated(placed, 0.03) else None

    pot_xy, lid_xy, d_xy = rejection_sample(
        draw, 2000, f"lid world seed {seed}: could not place objects without overlap"
    )
    return LidLayout(
        seed=seed,
        lid=placed_at(lid, lid_xy),
        pot=placed_at(pot, pot_xy),
        distractor=placed_at(distractor, d_xy),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def prompt_for(layout: LidLayout, phrasing: int | None = None) -> str:
    return phrase(_PHRASINGS, layout, phrasing, obj=colour_noun(layout.lid), pot=layout.pot.noun)


def _lid_hull_points(lid: LidTruth) -> np.ndarray:
    return np.vstack([lid.disk_mesh().convex_hull.vertices, lid.knob_mesh().convex_hull.vertices])


def _build_lid(scene, lid: LidTruth, name: str = "lid"):
    pose = pose_on_table(lid.xy, 0.0, lid.yaw)
    return build_convex_actor(
        scene, name, [lid.disk_mesh(), lid.knob_mesh()], lid.rgba, lid.friction, pose, lid.density
    )


def _build_distractor(scene, d: DistractorTruth, name: str = "distractor"):
    pose = pose_on_table(d.xy, d.half_size[2], d.yaw)
    return build_convex_actor(scene, name, d.mesh(), d.rgba, d.friction, pose, d.density)


def _pot_visual_mesh(pot: PotTruth) -> trimesh.Trimesh:
    profile = open_cylinder_profile(pot.inner_radius, pot.outer_radius, _FLOOR, pot.height)
    return revolve(profile, sections=48)


def _build_pot(scene, pot: PotTruth, name: str = "pot"):
    """Kinematic pot: a floor disk and a ring of wall boxes (collision), a revolved shell (visual), handles."""
    builder = scene.create_actor_builder()
    render_mat = sapien.render.RenderMaterial(base_color=list(pot.rgba))
    mat = material(pot.friction)
    floor_pose = sapien.Pose(p=[0, 0, _FLOOR / 2], q=UPRIGHT_CYLINDER)
    builder.add_cylinder_collision(
        pose=floor_pose, radius=pot.outer_radius, half_length=_FLOOR / 2, material=mat
    )
    add_ring_wall(builder, pot.inner_radius, pot.wall_thickness, pot.height, _SEGMENTS, mat)
    builder.add_visual_from_file(mesh_file(_pot_visual_mesh(pot)), material=render_mat)
    handle_half = [pot.handle_length / 2 + 0.002, 0.012, 0.005]
    handle_z = pot.height - 0.015
    for sign in (-1.0, 1.0):
        pose = sapien.Pose(p=[sign * (pot.outer_radius + pot.handle_length / 2 - 0.002), 0.0, handle_z])
        builder.add_box_collision(pose=pose, half_size=handle_half, material=mat)
        builder.add_box_visual(pose=pose, half_size=handle_half, material=render_mat)
    builder.initial_pose = pose_on_table(pot.xy, 0.0, pot.yaw)
    return build_actor(builder, name, kinematic=True)


@register_env(ENV_ID, max_episode_steps=200)
class LidWorldEnv(WorldEnv):
    __doc__ = __doc__
    sample_layout = staticmethod(sample_layout)
    MASSES = ("lid", "distractor")

    def _build_world(self) -> None:
        self.target_object = _build_lid(self.scene, self.layout.lid)
        self.distractor = _build_distractor(self.scene, self.layout.distractor)
        self.pot = _build_pot(self.scene, self.layout.pot)

    def _place_objects(self, env_idx) -> None:
        lid, d = self.layout.lid, self.layout.distractor
        self._place_jittered(self.target_object, lid.xy, 0.0, lid.yaw)
        self._place_jittered(self.distractor, d.xy, d.half_size[2], d.yaw)

    @property
    def centre_tolerance(self) -> float:
        """How far off the pot's axis the lid may rest: 15 mm, less if that would uncover the rim."""
        lid, pot = self.layout.lid, self.layout.pot
        return float(min(0.015, lid.radius - pot.inner_radius - 0.004))

    def goal_actor(self):
        return self.pot

    def evaluate(self):
        pot = self.layout.pot
        raw = self.target_object.pose.raw_pose[0].cpu().numpy().astype(np.float64)
        offset = float(np.hypot(raw[0] - pot.xy[0], raw[1] - pot.xy[1]))
        centred = offset <= self.centre_tolerance
        level = self.target_tilt_deg() < 8.0
        supported = bool(pot.height - 0.004 <= raw[2] <= pot.height + 0.006)
        grasped = self.is_grasping_target()
        on_pot = centred and level and supported
        return self._evaluation(
            success=on_pot and not grasped,
            on_pot=on_pot,
            centred=centred,
            level=level,
            supported=supported,
            grasped=grasped,
        )

    @cached_property
    def _lid_points(self) -> np.ndarray:
        return _lid_hull_points(self.layout.lid)

    def target_points_local(self) -> np.ndarray:
        return self._lid_points


def oracle(env: LidWorldEnv):
    """Grasp the knob from above (fingertips clear of the dome, palm clear of the knob), carry the lid over
    the pot while servoing its axis onto the pot's, lower it to just above the rim, let go."""
    lid, pot = env.layout.lid, env.layout.pot
    # TCP height above the lid's underside: fingertips (9.5 mm below the TCP) 5 mm above the dome, pads on
    # the knob's head.
    grasp_dz = lid.knob_base + max(0.0145, lid.knob_height - 0.012)
    R = down_rotation(np.pi / 2)  # the knob is round: keep the start yaw
    knob = lambda: actor_pose(env.target_object)[0] + [0, 0, grasp_dz]
    goal = np.array([pot.xy[0], pot.xy[1], pot.height])
    d = env.layout.distractor
    carry_z = max(pot.height + 0.05, 2 * d.half_size[2] + 0.03)  # lid underside while carrying

    # The lid's origin ``z_above_goal`` above the rim, on the pot's axis.
    servo = lambda z_above_goal: carry_to(env, env.target_object, goal + [0, 0, z_above_goal])
    return Script(
        env,
        [
            *grasp_from_above(env, knob, R, approach=0.06, tol=0.004),
            lift_to(env, carry_z + grasp_dz + 0.02, R, tol=0.02),
            Move(servo(0.05), R, gripper=CLOSED, tol=0.01),
            Move(servo(0.02), R, gripper=CLOSED, tol=0.004, max_step=0.02, follow=True, timeout=40),
            Move(servo(0.006), R, gripper=CLOSED, tol=0.003, max_step=0.01, follow=True, timeout=40),
            Grip(OPEN, 10),
            rise_by(env, 0.06, R, tol=0.02),
        ],
    )


FAMILY = register_family(
    WorldFamily(
        name="lid",
        env_id=ENV_ID,
        sample_layout=sample_layout,
        prompt_for=prompt_for,
        num_phrasings=len(_PHRASINGS),
        oracle=oracle,
    )
)
