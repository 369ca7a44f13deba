"""Family "book": put the book on the shelf.

**Task Description:**
A Panda must pick the named book, standing upright on the table, up from above and slide it down into the
one empty slot of a small bookshelf (a base board with two bookends and a row of shorter books, fixed to the
table), standing upright between its neighbours.

**Randomizations (all from the world seed):**
- book thickness, depth (spine to fore-edge), height, spine rounding, colour, yaw, position;
- shelf base size and thickness, bookend height, colour, yaw, position (left or right of the book);
- number (2–4), thicknesses, depths, heights and colours (never the book's colour name) of the shelved
  books, and which gap between them is the empty slot; slot clearance 12–20 mm over the book's thickness;
- true density (300–1200 kg/m³) and friction (0.5–1.2) of the book, friction of the shelf;
- per trial (episode seed): a few millimetres of reset jitter of the book.

**Success Conditions:**
- the book's centre lies in the slot (in the shelf frame: between its neighbours across the row, over the
  base board along it), its underside is within 1 cm of the base board (pushed all the way in), it stands
  upright (tilt under 25°), and it is no longer held by the gripper.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, partial

import numpy as np
import sapien
import trimesh
from mani_skill.utils.registration import register_env
from transforms3d.quaternions import quat2mat

from physworld_core.world.base import WorldEnv
from physworld_core.world.layout import (
    Record,
    colour_noun,
    discs_apart,
    phrase,
    placed_at,
    points_in_workspace,
    rectangle_corners,
    rejection_sample,
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
    build_actor,
    material,
    mesh_file,
    pose_on_table,
    rounded_box,
)

ENV_ID = "PhysWorld-Book-v0"
_BOOK_NOUNS = ("book", "notebook", "hardcover", "paperback")
_SHELF_NOUNS = ("shelf", "bookshelf", "book rack", "bookcase")
_PHRASINGS = (
    "put the {obj} on the {shelf}",
    "place the {obj} in the empty slot of the {shelf}",
    "slide the {obj} into the gap on the {shelf}",
    "shelve the {obj} on the {shelf}",
    "pick up the {obj} and stand it on the {shelf}",
)
_PAGES = (0.93, 0.91, 0.84, 1.0)
_BOOKEND_T = 0.008  # bookend board thickness


@dataclass(frozen=True)
class BookTruth:
    """A book standing on its bottom edge: thickness along its frame's x, depth along y, height along z,
    frame centred on the book."""

    thickness: float
    depth: float
    height: float
    spine_radius: float
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    density: float
    friction: float
    noun: str

    def mesh(self) -> trimesh.Trimesh:
        return rounded_box((self.thickness, self.depth, self.height), self.spine_radius)

    @property
    def mass(self) -> float:
        return float(self.density * self.mesh().volume)

    @property
    def footprint_radius(self) -> float:
        return float(np.hypot(self.thickness, self.depth) / 2)


@dataclass(frozen=True)
class ShelvedBook:
    """A book on the shelf (part of the fixed shelf): centre along the row, size, colour."""

    x: float
    thickness: float
    depth: float
    height: float
    colour_name: str
    rgba: tuple[float, ...]


@dataclass(frozen=True)
class ShelfTruth:
    """Shelf frame: origin on the table under the base board's centre, the row of books along x."""

    length: float
    depth: float
    base_thickness: float
    bookend_height: float
    books: tuple[ShelvedBook, ...]
    slot_x: float
    slot_width: float
    xy: tuple[float, float]
    yaw: float
    colour_name: str
    rgba: tuple[float, ...]
    friction: float
    noun: str

    @property
    def footprint_radius(self) -> float:
        return float(np.hypot(self.length, self.depth) / 2)

    @property
    def top(self) -> float:
        """Highest point of the shelf (a bookend or a shelved book)."""
        return self.base_thickness + max([self.bookend_height] + [b.height for b in self.books])

    def slot_world(self) -> np.ndarray:
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([self.xy[0] + c * self.slot_x, self.xy[1] + s * self.slot_x, self.base_thickness])


@dataclass(frozen=True)
class BookLayout(Record):
    seed: int
    book: BookTruth
    shelf: ShelfTruth
    phrasing: int


def _sample_shelf(rng: np.random.Generator, book: BookTruth, colours: list[str]) -> ShelfTruth:
    depth = book.depth + rng.uniform(0.01, 0.03)
    # Shelved books and bookends stay 4 cm below the book's top so the fingers clear them in the slot.
    max_h = book.height - 0.04
    n = int(rng.integers(2, 5))
    slot_index = int(rng.integers(1, n))  # the slot has a shelved book on each side
    widths = rng.uniform(0.015, 0.03, n)
    slot_width = book.thickness + rng.uniform(0.012, 0.02)
    pieces = [*widths[:slot_index], slot_width, *widths[slot_index:]]
    margin = rng.uniform(0.004, 0.012)  # between the bookends and the row
    length = 2 * (_BOOKEND_T + margin) + sum(pieces)
    x = -length / 2 + _BOOKEND_T + margin
    books, slot_x = [], 0.0
    for k, w in enumerate(pieces):
        if k == slot_index:
            slot_x = x + w / 2
        else:
            name = str(rng.choice(colours))
            books.append(
                ShelvedBook(
                    x=float(x + w / 2),
                    thickness=float(w),
                    depth=float(rng.uniform(0.75, 0.98) * depth),
                    height=float(rng.uniform(0.045, max_h)),
                    colour_name=name,
                    rgba=tuple(jitter_colour(PALETTE[name], rng, 0.1)),
                )
            )
        x += w
    shelf_colour = str(rng.choice(list(CONTAINER_PALETTE)))
    return ShelfTruth(
        length=float(length),
        depth=float(depth),
        base_thickness=float(rng.uniform(0.01, 0.02)),
        bookend_height=float(rng.uniform(0.04, max_h)),
        books=tuple(books),
        slot_x=float(slot_x),
        slot_width=float(slot_width),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=shelf_colour,
        rgba=tuple(jitter_colour(CONTAINER_PALETTE[shelf_colour], rng, 0.04)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_SHELF_NOUNS)),
    )


def sample_layout(seed: int) -> BookLayout:
    """Draw a world from its seed; rejection-samples positions so nothing overlaps and all is reachable."""
    rng = np.random.default_rng(seed)
    colours = [str(c) for c in rng.permutation(list(PALETTE))]
    book = BookTruth(
        thickness=float(rng.uniform(0.018, 0.032)),
        depth=float(rng.uniform(0.06, 0.085)),
        height=float(rng.uniform(0.1, 0.13)),
        spine_radius=float(rng.uniform(0.002, 0.006)),
        xy=(0.0, 0.0),
        yaw=float(rng.uniform(-np.pi, np.pi)),
        colour_name=colours[0],
        rgba=tuple(jitter_colour(PALETTE[colours[0]], rng)),
        density=float(rng.uniform(300, 1200)),
        friction=float(rng.uniform(0.5, 1.2)),
        noun=str(rng.choice(_BOOK_NOUNS)),
    )
    shelf = _sample_shelf(rng, book, colours[1:])
    side = rng.choice([-1.0, 1.0])

    def draw():
        shelf_xy = (rng.uniform(-0.1, 0.12), side * rng.uniform(0.06, 0.2))
        book_xy = (rng.uniform(-0.1, 0.12), -side * rng.uniform(0.0, 0.2))
        apart = discs_apart(shelf_xy, shelf.footprint_radius, book_xy, book.footprint_radius, 0.04)
        shelf_corners = rectangle_corners(shelf.length / 2, shelf.depth / 2, shelf_xy, shelf.yaw)
        return (shelf_xy, book_xy) if apart and points_in_workspace(shelf_corners) else None

    shelf_xy, book_xy = rejection_sample(
        draw, 4000, f"book world seed {seed}: could not place objects without overlap"
    )
    return BookLayout(
        seed=seed,
        book=placed_at(book, book_xy),
        shelf=placed_at(shelf, shelf_xy),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def prompt_for(layout: BookLayout, phrasing: int | None = None) -> str:
    return phrase(_PHRASINGS, layout, phrasing, obj=colour_noun(layout.book), shelf=layout.shelf.noun)


def _add_book_visual(
    builder, thickness, depth, height, radius, rgba, pose: sapien.Pose | None = None
) -> None:
    """A coloured cover and, 1.5 mm proud of it at the fore-edge (+y), the off-white page block."""
    pose = pose or sapien.Pose()
    cover = rounded_box((thickness, depth, height), radius)
    builder.add_visual_from_file(
        mesh_file(cover), pose=pose, material=sapien.render.RenderMaterial(base_color=list(rgba))
    )
    pages = trimesh.creation.box(extents=(thickness - 0.003, depth * 0.6, height - 0.004))
    pages.apply_translation([0.0, depth * 0.2 + 0.0015, 0.0])
    builder.add_visual_from_file(
        mesh_file(pages), pose=pose, material=sapien.render.RenderMaterial(base_color=list(_PAGES))
    )


def _build_book(scene, book: BookTruth, name: str = "book"):
    builder = scene.create_actor_builder()
    add_convex_mesh(builder, book.mesh(), book.rgba, book.friction, book.density, visual=False)
    _add_book_visual(builder, book.thickness, book.depth, book.height, book.spine_radius, book.rgba)
    builder.initial_pose = pose_on_table(book.xy, book.height / 2, book.yaw)
    return build_actor(builder, name)


def _build_shelf(scene, shelf: ShelfTruth, name: str = "shelf"):
    """Kinematic shelf: base board, two bookends, the shelved books (boxes collided, rounded books drawn)."""
    builder = scene.create_actor_builder()
    mat = material(shelf.friction)
    wood = sapien.render.RenderMaterial(base_color=list(shelf.rgba))
    tb, hb = shelf.base_thickness, shelf.bookend_height
    boards = [
        ([0, 0, tb / 2], [shelf.length / 2, shelf.depth / 2, tb / 2]),
        ([-(shelf.length - _BOOKEND_T) / 2, 0, tb + hb / 2], [_BOOKEND_T / 2, shelf.depth / 2, hb / 2]),
        ([(shelf.length - _BOOKEND_T) / 2, 0, tb + hb / 2], [_BOOKEND_T / 2, shelf.depth / 2, hb / 2]),
    ]
    for p, half in boards:
        builder.add_box_collision(pose=sapien.Pose(p=p), half_size=half, material=mat)
        builder.add_box_visual(pose=sapien.Pose(p=p), half_size=half, material=wood)
    for b in shelf.books:
        # Flush with the back of the shelf (-y), the fore-edge towards the front.
        pose = sapien.Pose(p=[b.x, -shelf.depth / 2 + b.depth / 2, tb + b.height / 2])
        builder.add_box_collision(
            pose=pose, half_size=[b.thickness / 2, b.depth / 2, b.height / 2], material=mat
        )
        _add_book_visual(builder, b.thickness, b.depth, b.height, 0.003, b.rgba, pose)
    builder.initial_pose = pose_on_table(shelf.xy, 0.0, shelf.yaw)
    return build_actor(builder, name, kinematic=True)


@register_env(ENV_ID, max_episode_steps=200)
class BookWorldEnv(WorldEnv):
    __doc__ = __doc__
    sample_layout = staticmethod(sample_layout)
    MASSES = ("book",)

    def _build_world(self) -> None:
        self.target_object = _build_book(self.scene, self.layout.book)
        self.shelf = _build_shelf(self.scene, self.layout.shelf)

    def _place_objects(self, env_idx) -> None:
        book = self.layout.book
        self._place_jittered(self.target_object, book.xy, book.height / 2, book.yaw)

    def book_in_shelf_frame(self) -> tuple[np.ndarray, np.ndarray]:
        """The book's centre and rotation in the shelf frame."""
        s = self.layout.shelf
        raw = self.target_object.pose.raw_pose[0].cpu().numpy().astype(np.float64)
        c, n = np.cos(-s.yaw), np.sin(-s.yaw)
        R_inv = np.array([[c, -n, 0.0], [n, c, 0.0], [0.0, 0.0, 1.0]])
        centre = R_inv @ (raw[:3] - [s.xy[0], s.xy[1], 0.0])
        return centre, R_inv @ quat2mat(raw[3:])

    def goal_actor(self):
        return self.shelf

    def evaluate(self):
        s = self.layout.shelf
        centre, _ = self.book_in_shelf_frame()
        between = abs(centre[0] - s.slot_x) <= s.slot_width / 2
        over_base = abs(centre[1]) <= s.depth / 2
        bottom = self.target_bottom_z()
        down = bottom <= s.base_thickness + 0.01
        upright = self.target_tilt_deg() < 25.0
        in_slot = between and over_base and down and upright
        grasped = self.is_grasping_target()
        return self._evaluation(
            success=in_slot and not grasped,
            in_slot=in_slot,
            between=between,
            down=down,
            upright=upright,
            grasped=grasped,
        )

    @cached_property
    def _book_points(self) -> np.ndarray:
        return np.asarray(self.layout.book.mesh().vertices)

    def target_points_local(self) -> np.ndarray:
        return self._book_points


def oracle(env: BookWorldEnv):
    """Grasp the standing book from above across its thickness near its top, lift it over the shelf, turn it
    so its thickness runs along the row, servo its centre over the slot, lower it in until it almost touches
    the base board (the fingers stay above the neighbours), let go."""
    book, shelf = env.layout.book, env.layout.shelf
    move = partial(Move, symmetric=False)  # rotations below are already the twin the wrist can reach
    grasp_dz = book.height / 2 - 0.02  # TCP above the book's centre: pads on its top 3 cm
    pick_R = lambda: wrist_safe(env, down_rotation(book.yaw))  # closing axis along the book's thickness
    place_R = square_to(env, env.target_object, shelf.yaw)  # thickness along the row
    grasp = lambda: actor_pose(env.target_object)[0] + [0, 0, grasp_dz]
    slot = shelf.slot_world()
    carry = shelf.top + 0.03 + book.height / 2  # book centre height while carrying
    low = shelf.base_thickness + book.height / 2 + 0.006  # 6 mm above the base board
    servo = lambda centre_z: carry_to(env, env.target_object, np.r_[slot[:2], centre_z])
    return Script(
        env,
        [
            *grasp_from_above(env, grasp, pick_R, approach=0.06, tol=0.004, symmetric=False),
            lift_to(env, carry + grasp_dz + 0.02, pick_R, tol=0.02, symmetric=False),
            move(servo(carry), place_R, gripper=CLOSED, tol=0.01),
            move(servo(carry), place_R, gripper=CLOSED, tol=0.003, max_step=0.02, follow=True, timeout=40),
            move(servo(low), place_R, gripper=CLOSED, tol=0.003, max_step=0.015, follow=True, timeout=60),
            Grip(OPEN, 10),
            rise_by(env, 0.06, tol=0.02),
        ],
    )


FAMILY = register_family(
    WorldFamily(
        name="book",
        env_id=ENV_ID,
        sample_layout=sample_layout,
        prompt_for=prompt_for,
        num_phrasings=len(_PHRASINGS),
        oracle=oracle,
    )
)
