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

from dataclasses import dataclass
from functools import cached_property, partial

import numpy as np
import sapien
import trimesh
from mani_skill.utils.registration import register_env

from physworld_core.world.base import WorldEnv
from physworld_core.world.layout import (
    Record,
    colour_noun,
    phrase,
    placed_at,
    points_in_workspace,
    rectangle_corners,
    rejection_sample,
    separated,
    to_local_xy,
)
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
    square_to,
    wrist_safe,
)
from physworld_core.world.shapes import (
    add_convex_mesh,
    add_open_box,
    blob_hull,
    build_actor,
    build_convex_actor,
    material,
    mesh_file,
    pose_on_table,
    rounded_box,
)

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
class ShoeLayout(Record):
    seed: int
    shoe: ShoeTruth
    box: ShoeboxTruth
    distractor: DistractorTruth
    phrasing: int


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
    box_r, d_r = box.footprint_radius, distractor.footprint_radius
    box_corners = lambda xy: rectangle_corners(*np.add(box.inner_half, box.wall_thickness), xy, box.yaw)

    def draw():
        box_xy = (rng.uniform(-0.06, 0.17 - box_r * 0.8), side * rng.uniform(0.1, 0.25 - box_r * 0.7))
        shoe_xy = (rng.uniform(-0.15 + shoe_r, 0.17 - shoe_r), -side * rng.uniform(0.0, 0.25 - shoe_r))
        d_xy = (rng.uniform(-0.15 + d_r, 0.17 - d_r), rng.uniform(-0.25 + d_r, 0.25 - d_r))
        placed = [(box_xy, box_r), (shoe_xy, shoe_r), (d_xy, d_r)]
        ok = separated(placed, 0.03) and points_in_workspace(box_corners(box_xy))
        return (box_xy, shoe_xy, d_xy) if ok else None

    box_xy, shoe_xy, d_xy = rejection_sample(
        draw, 2000, f"shoe world seed {seed}: could not place objects without overlap"
    )
    return ShoeLayout(
        seed=seed,
        shoe=placed_at(shoe, shoe_xy),
        box=placed_at(box, box_xy),
        distractor=placed_at(distractor, d_xy),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def prompt_for(layout: ShoeLayout, phrasing: int | None = None) -> str:
    return phrase(_PHRASINGS, layout, phrasing, obj=colour_noun(layout.shoe), box=layout.box.noun)


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
    builder.initial_pose = pose_on_table(shoe.xy, 0.0, shoe.yaw)
    return build_actor(builder, name)


def _build_distractor(scene, d: DistractorTruth, name: str = "distractor"):
    pose = pose_on_table(d.xy, 0.0, d.yaw)
    return build_convex_actor(scene, name, d.mesh(), d.rgba, d.friction, pose, d.density)


def _build_box(scene, b: ShoeboxTruth, name: str = "shoebox"):
    builder = scene.create_actor_builder()
    add_open_box(builder, b.inner_half, b.wall_thickness, b.wall_height, _FLOOR, material(b.friction), b.rgba)
    builder.initial_pose = pose_on_table(b.xy, 0.0, b.yaw)
    return build_actor(builder, name, kinematic=True)


@register_env(ENV_ID, max_episode_steps=200)
class ShoeWorldEnv(WorldEnv):
    __doc__ = __doc__
    sample_layout = staticmethod(sample_layout)
    MASSES = ("shoe", "distractor")

    def _build_world(self) -> None:
        self.target_object = _build_shoe(self.scene, self.layout.shoe)
        self.distractor = _build_distractor(self.scene, self.layout.distractor)
        self.shoebox = _build_box(self.scene, self.layout.box)

    def _place_objects(self, env_idx) -> None:
        for actor, obj in ((self.target_object, self.layout.shoe), (self.distractor, self.layout.distractor)):
            self._place_jittered(actor, obj.xy, 0.0, obj.yaw)

    def points_in_box_frame(self, points_world: np.ndarray) -> np.ndarray:
        b = self.layout.box
        return np.column_stack([to_local_xy(points_world[:, :2], b.xy, b.yaw), points_world[:, 2]])

    def goal_actor(self):
        return self.shoebox

    def evaluate(self):
        local = self.points_in_box_frame(self.target_points_world())
        footprint = bool(np.all(np.abs(local[:, :2]) <= np.asarray(self.layout.box.inner_half) + 0.003))
        inside = footprint and float(local[:, 2].min()) < self.layout.box.wall_height
        grasped = self.is_grasping_target()
        return self._evaluation(success=inside and not grasped, inside=inside, grasped=grasped)

    @cached_property
    def _shoe_points(self) -> np.ndarray:
        return np.asarray(self.layout.shoe.mesh().vertices)

    def target_points_local(self) -> np.ndarray:
        return self._shoe_points


def oracle(env: ShoeWorldEnv):
    """Grasp across the shoe's width over its middle (palm clear of the heel), lift it over the rim, turn it
    lengthwise to the box, servo its centre over the box's centre, lower it to just above the floor (fingers
    never below the rim), let go."""
    shoe, box = env.layout.shoe, env.layout.box
    move = partial(Move, symmetric=False)  # rotations below are already the twin the wrist can reach
    top = float(env.target_points_local()[:, 2].max())
    # TCP height above the sole: the palm (3.7 cm above the TCP) clears the heel, fingertips clear the table.
    grasp_dz = max(0.016, top - 0.03)
    pick_R = lambda: wrist_safe(env, down_rotation(shoe.yaw + np.pi / 2))  # close across the width
    place_R = square_to(env, env.target_object, box.yaw)  # shoe lengthwise along the box (its long side)
    centre = lambda: actor_pose(env.target_object)[0] + [0, 0, grasp_dz]
    carry_dz = box.wall_height + 0.03  # sole height while carrying
    # Release with the fingertips (9.5 mm below the TCP) above the rim, or the sole just above the floor.
    release_dz = max(_FLOOR + 0.008, box.wall_height + 0.004 + 0.0095 - grasp_dz)
    # The shoe's centre over the box's centre, its sole at ``sole_z``.
    servo = lambda sole_z: carry_to(env, env.target_object, np.r_[box.xy, sole_z])
    return Script(
        env,
        [
            *grasp_from_above(env, centre, pick_R, approach=0.08, tol=0.005, symmetric=False),
            lift_to(env, carry_dz + grasp_dz + 0.02, pick_R, tol=0.02, symmetric=False),
            move(servo(carry_dz), place_R, gripper=CLOSED, tol=0.01),
            move(servo(carry_dz), place_R, gripper=CLOSED, tol=0.004, max_step=0.02, follow=True, timeout=40),
            move(
                servo(release_dz), place_R, gripper=CLOSED, tol=0.004, max_step=0.02, follow=True, timeout=40
            ),
            Grip(OPEN, 10),
            rise_by(env, 0.08, tol=0.02),
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
