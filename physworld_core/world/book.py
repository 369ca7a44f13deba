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
class BookLayout:
    seed: int
    book: BookTruth
    shelf: ShelfTruth
    phrasing: int

    def to_dict(self) -> dict:
        return asdict(self)


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


def _inside_workspace(half_x: float, half_y: float, xy, yaw: float) -> bool:
    c, s = np.cos(yaw), np.sin(yaw)
    corners = np.array([[x * c - y * s, x * s + y * c] for x in (-half_x, half_x) for y in (-half_y, half_y)])
    corners += np.asarray(xy)
    return bool(
        corners[:, 0].min() >= -0.15 and corners[:, 0].max() <= 0.17 and np.abs(corners[:, 1]).max() <= 0.25
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
    for _ in range(4000):
        shelf_xy = (rng.uniform(-0.1, 0.12), side * rng.uniform(0.06, 0.2))
        book_xy = (rng.uniform(-0.1, 0.12), -side * rng.uniform(0.0, 0.2))
        far = np.hypot(shelf_xy[0] - book_xy[0], shelf_xy[1] - book_xy[1])
        if far > shelf.footprint_radius + book.footprint_radius + 0.04 and _inside_workspace(
            shelf.length / 2, shelf.depth / 2, shelf_xy, shelf.yaw
        ):
            break
    else:  # pragma: no cover - the ranges above always admit a layout
        raise RuntimeError(f"book world seed {seed}: could not place objects without overlap")
    return BookLayout(
        seed=seed,
        book=replace(book, xy=tuple(map(float, book_xy))),
        shelf=replace(shelf, xy=tuple(map(float, shelf_xy))),
        phrasing=int(rng.integers(len(_PHRASINGS))),
    )


def prompt_for(layout: BookLayout, phrasing: int | None = None) -> str:
    template = _PHRASINGS[layout.phrasing if phrasing is None else phrasing % len(_PHRASINGS)]
    return template.format(obj=f"{layout.book.colour_name} {layout.book.noun}", shelf=layout.shelf.noun)


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
    builder.initial_pose = sapien.Pose(
        p=[book.xy[0], book.xy[1], book.height / 2], q=euler2quat(0, 0, book.yaw)
    )
    return builder.build(name=name)


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
    builder.initial_pose = sapien.Pose(p=[shelf.xy[0], shelf.xy[1], 0.0], q=euler2quat(0, 0, shelf.yaw))
    return builder.build_kinematic(name=name)


@register_env(ENV_ID, max_episode_steps=200)
class BookWorldEnv(TabletopEnv):
    __doc__ = __doc__

    def __init__(self, *args, world_seed: int = 0, reset_jitter_m: float = 0.003, **kwargs):
        self.layout = sample_layout(world_seed)
        self.reset_jitter_m = reset_jitter_m
        self._book_points = np.asarray(self.layout.book.mesh().vertices)
        super().__init__(*args, **kwargs)

    def _build_objects(self) -> None:
        from mani_skill.utils.scene_builder.table import TableSceneBuilder

        self.table_scene = TableSceneBuilder(self, robot_init_qpos_noise=0.0)
        self.table_scene.build()
        self.target_object = _build_book(self.scene, self.layout.book)
        self.shelf = _build_shelf(self.scene, self.layout.shelf)

    def _place_objects(self, env_idx: torch.Tensor) -> None:
        rng = self._batched_episode_rng[0] if self._batched_episode_rng is not None else np.random
        book = self.layout.book
        dx, dy = rng.normal(0.0, self.reset_jitter_m, 2) if self.reset_jitter_m > 0 else (0.0, 0.0)
        p = torch.tensor([[book.xy[0] + dx, book.xy[1] + dy, book.height / 2]], dtype=torch.float32)
        q = torch.tensor(np.asarray([euler2quat(0, 0, book.yaw)]), dtype=torch.float32)
        self.target_object.set_pose(Pose.create_from_pq(p, q))
        self.target_object.set_linear_velocity(torch.zeros((1, 3)))
        self.target_object.set_angular_velocity(torch.zeros((1, 3)))

    def book_in_shelf_frame(self) -> tuple[np.ndarray, np.ndarray]:
        """The book's centre and rotation in the shelf frame."""
        s = self.layout.shelf
        raw = self.target_object.pose.raw_pose[0].cpu().numpy().astype(np.float64)
        c, n = np.cos(-s.yaw), np.sin(-s.yaw)
        R_inv = np.array([[c, -n, 0.0], [n, c, 0.0], [0.0, 0.0, 1.0]])
        centre = R_inv @ (raw[:3] - [s.xy[0], s.xy[1], 0.0])
        return centre, R_inv @ quat2mat(raw[3:])

    def evaluate(self):
        s = self.layout.shelf
        centre, R = self.book_in_shelf_frame()
        between = abs(centre[0] - s.slot_x) <= s.slot_width / 2
        over_base = abs(centre[1]) <= s.depth / 2
        bottom = self.target_bottom_z()
        down = bottom <= s.base_thickness + 0.01
        upright = float(np.degrees(np.arccos(np.clip(R[2, 2], -1.0, 1.0)))) < 25.0
        in_slot = between and over_base and down and upright
        grasped = bool(self.agent.is_grasping(self.target_object)[0])
        success = in_slot and not grasped
        return {
            "success": torch.tensor([success]),
            "in_slot": torch.tensor([in_slot]),
            "between": torch.tensor([between]),
            "down": torch.tensor([down]),
            "upright": torch.tensor([upright]),
            "grasped": torch.tensor([grasped]),
        }

    def target_points_local(self) -> np.ndarray:
        return self._book_points

    def truth(self) -> dict:
        """Hidden truth for scoring: layout with the book's mass."""
        d = self.layout.to_dict()
        d["book"]["mass"] = self.layout.book.mass
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


def oracle(env: BookWorldEnv):
    """Grasp the standing book from above across its thickness near its top, lift it over the shelf, turn it
    so its thickness runs along the row, servo its centre over the slot, lower it in until it almost touches
    the base board (the fingers stay above the neighbours), let go."""
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

    book, shelf = env.layout.book, env.layout.shelf
    move = partial(Move, symmetric=False)  # rotations below are already the twin the wrist can reach
    grasp_dz = book.height / 2 - 0.02  # TCP above the book's centre: pads on its top 3 cm
    pick_R = lambda: _wrist_safe(env, down_rotation(book.yaw))  # closing axis along the book's thickness
    place_R = _square_to(env, env.target_object, shelf.yaw)  # thickness along the row
    grasp = lambda: actor_pose(env.target_object)[0] + [0, 0, grasp_dz]
    slot = shelf.slot_world()
    carry = shelf.top + 0.03 + book.height / 2  # book centre height while carrying
    low = shelf.base_thickness + book.height / 2 + 0.006  # 6 mm above the base board

    def servo(centre_z: float):
        def target():
            return tcp_pose(env)[0] + np.r_[slot[:2], centre_z] - actor_pose(env.target_object)[0]

        return target

    start_z = lambda: max(tcp_pose(env)[0][2], grasp()[2] + 0.06)
    return Script(
        env,
        [
            move(lambda: np.r_[grasp()[:2], start_z()], pick_R, tol=0.02),
            move(lambda: grasp() + [0, 0, 0.06], pick_R, tol=0.01),
            move(grasp, pick_R, tol=0.004, max_step=0.02),
            Grip(CLOSED, 12),
            move(
                lambda: np.r_[tcp_pose(env)[0][:2], carry + grasp_dz + 0.02], pick_R, gripper=CLOSED, tol=0.02
            ),
            move(servo(carry), place_R, gripper=CLOSED, tol=0.01),
            move(servo(carry), place_R, gripper=CLOSED, tol=0.003, max_step=0.02, follow=True, timeout=40),
            move(servo(low), place_R, gripper=CLOSED, tol=0.003, max_step=0.015, follow=True, timeout=60),
            Grip(OPEN, 10),
            move(lambda: tcp_pose(env)[0] + [0, 0, 0.06], tol=0.02),
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
