"""How an object's unseen part is completed: a backend chosen by name.

The default, ``half_turn``, is :func:`~physworld_core.reconstruction.geometry.object_mesh`: the seen half
turned about the object's vertical centre line and extruded down to the table. A team with an image-to-3D
model (TripoSR, Hunyuan3D, TRELLIS, …) runs it on its capture and hands the meshes over through
``mesh_files``: ``<directory>/<task_id>/<object>.{glb,obj,ply,stl}`` where ``<object>`` is the
reconstruction's name for it (``target``, ``support``, ``obstacle_0``, …). Such a mesh comes in whatever
scale, up axis and turn the model chose, so it is fitted to the object's seen points first (a turn about the
vertical and a scale, by a search over turns then scaled ICP, its lowest point on the table), and used only
when it explains the seen surface within ``max_residual_m``. Otherwise the reconstruction falls back to the
half turn and says why in its metrics: a wrong mesh must not silently become a wrong twin.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from scipy.optimize import least_squares
from scipy.spatial import cKDTree

from physworld_core.backends import ConfiguredBackend, Registry
from physworld_core.errors import ReconstructionError
from physworld_core.reconstruction.geometry import ObjectMesh, convex_mesh, object_mesh
from physworld_core.reconstruction.tracking import sample_surface

MESH_SUFFIXES = (".glb", ".gltf", ".obj", ".ply", ".stl")


@dataclass(frozen=True)
class CompletionRequest:
    """One object to complete: its seen points (world, gravity-aligned), where the camera was, the table."""

    task_id: str
    name: str
    seen_world: np.ndarray
    camera_position: np.ndarray
    table_height: float


@dataclass(frozen=True)
class Completion:
    """The completed object and, for the metrics, how it was made."""

    mesh: ObjectMesh
    source: str

    @property
    def is_half_turn(self) -> bool:
        return self.source.startswith("half turn")


class CompletionBackend(ConfiguredBackend, ABC):
    """Completes one object from what the real depth frame saw of it."""

    @abstractmethod
    def complete(self, request: CompletionRequest) -> Completion:
        """The object's watertight mesh (object frame: origin at its footprint centre on the table)."""


_REGISTRY: Registry[CompletionBackend] = Registry("completion backend")
COMPLETION_BACKENDS = _REGISTRY.classes
register = _REGISTRY.register
load = _REGISTRY.load


@dataclass(frozen=True)
class HalfTurnConfig:
    """No settings: the half turn's priors are fixed (see ``geometry``)."""


@register
class HalfTurnCompletion(CompletionBackend):
    """The seen half turned about the vertical centre line, extruded to the table (offline default)."""

    name = "half_turn"
    config_class = HalfTurnConfig

    def complete(self, request: CompletionRequest) -> Completion:
        mesh = object_mesh(request.seen_world, request.camera_position, request.table_height)
        return Completion(mesh, "half turn")


@dataclass(frozen=True)
class MeshFilesConfig:
    """Args:
    directory: holds ``<task_id>/<object>.<suffix>`` meshes from an image-to-3D model.
    up_axis: the meshes' up axis: "y" (glTF and most image-to-3D exports) or "z".
    max_residual_m: median distance of the seen points to the fitted mesh above which it is not used.
    turns: turns about the vertical tried before ICP (every 360/turns degrees).
    """

    directory: str = ""
    up_axis: str = "y"
    max_residual_m: float = 0.004
    turns: int = 24

    def __post_init__(self) -> None:
        if not self.directory:
            raise ValueError(
                "the mesh_files completion backend needs directory=<folder of <task_id>/<object> meshes>"
            )
        if self.up_axis not in ("y", "z"):
            raise ValueError(f"up_axis must be 'y' or 'z', got {self.up_axis!r}")
        if not self.max_residual_m > 0 or self.turns < 4:
            raise ValueError("max_residual_m must be positive and turns >= 4")


@register
class MeshFilesCompletion(CompletionBackend):
    """Meshes from an image-to-3D model, fitted to the seen points (see the module docstring)."""

    name = "mesh_files"
    config_class = MeshFilesConfig

    def __init__(self, config: MeshFilesConfig | None = None) -> None:
        super().__init__(config)
        if not Path(self.config.directory).is_dir():
            raise ValueError(f"mesh_files directory {self.config.directory!r} does not exist")
        self._fallback = HalfTurnCompletion()

    def mesh_path(self, task_id: str, name: str) -> Path | None:
        folder = Path(self.config.directory) / task_id
        return next((folder / f"{name}{s}" for s in MESH_SUFFIXES if (folder / f"{name}{s}").is_file()), None)

    def complete(self, request: CompletionRequest) -> Completion:
        path = self.mesh_path(request.task_id, request.name)
        if path is None:
            return Completion(self._fallback.complete(request).mesh, "half turn (no mesh file)")
        vertices, faces = _load_mesh(path)
        if self.config.up_axis == "y":
            vertices = vertices @ np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]).T  # y up → z up
        fit = fit_mesh(vertices, faces, request.seen_world, request.table_height, self.config)
        if fit.residual_m > self.config.max_residual_m:
            return Completion(
                self._fallback.complete(request).mesh,
                f"half turn ({path.name} rejected: the seen points lie {1000 * fit.residual_m:.1f} mm from it "
                f"at best, more than {1000 * self.config.max_residual_m:.1f} mm)",
            )
        placed = fit.apply(vertices)
        lo, hi = placed.min(0), placed.max(0)
        origin = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, request.table_height])
        pose = np.eye(4)
        pose[:3, 3] = origin
        note = ""
        if not _watertight(faces):
            placed, faces = convex_mesh(placed)  # a twin needs a closed body: its hull is the safe one
            note = ", not closed: its hull is used"
        mesh = ObjectMesh(placed - origin, faces, pose, None, ())
        return Completion(
            mesh,
            f"mesh file {path.name} (scale {fit.scale:.3g}, residual {1000 * fit.residual_m:.1f} mm{note})",
        )


def _load_mesh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        mesh = trimesh.load(path, force="mesh")
    except Exception as exc:  # noqa: BLE001  (trimesh raises many types for an unreadable file)
        raise ReconstructionError(f"mesh file {path} could not be read: {exc}") from None
    if len(mesh.faces) < 4:
        raise ReconstructionError(f"mesh file {path} has {len(mesh.faces)} faces: not a solid")
    return np.asarray(mesh.vertices, float), np.asarray(mesh.faces, np.int64)


def _watertight(faces: np.ndarray) -> bool:
    """Every edge is shared by exactly two faces."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return bool(np.all(counts == 2))


@dataclass(frozen=True)
class MeshFit:
    """x_world = scale · Rz(yaw) · (x_mesh - centre) + (tx, ty, table), centre being the mesh's footprint centre
    at its lowest point."""

    scale: float
    yaw: float
    tx: float
    ty: float
    table: float
    centre: np.ndarray
    residual_m: float

    def apply(self, vertices: np.ndarray) -> np.ndarray:
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        return self.scale * (vertices - self.centre) @ R.T + [self.tx, self.ty, self.table]


def fit_mesh(
    vertices: np.ndarray, faces: np.ndarray, seen: np.ndarray, table: float, config: MeshFilesConfig
) -> MeshFit:
    """Turn, scale and place a z-up mesh so the seen points lie on its surface, resting on the table."""
    lo, hi = vertices.min(0), vertices.max(0)
    centre = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
    samples = sample_surface(vertices, faces, 3000, np.random.default_rng(0))
    scale0 = max(float(seen[:, 2].max() - table), 1e-3) / max(float(hi[2] - lo[2]), 1e-9)
    start_xy = np.median(seen[:, :2], axis=0)

    def placed(params: np.ndarray) -> np.ndarray:
        return MeshFit(params[0], params[1], params[2], params[3], table, centre, 0.0).apply(samples)

    def solve(params: np.ndarray) -> tuple[np.ndarray, float]:
        for _ in range(6):
            tree = cKDTree(placed(params))
            _, index = tree.query(seen)

            def residuals(p: np.ndarray, index=index) -> np.ndarray:
                return (placed(p)[index] - seen).ravel()

            params = least_squares(residuals, params, loss="soft_l1", f_scale=0.005, max_nfev=50).x
        distance = cKDTree(placed(params)).query(seen)[0]
        return params, float(np.median(distance))

    # If no turn gives a positive scale, the fit is the starting guess at an infinite residual: the caller
    # then rejects the mesh with its reason instead of failing here.
    best, best_residual = np.array([scale0, 0.0, *start_xy]), np.inf
    for yaw in np.linspace(-np.pi, np.pi, config.turns, endpoint=False):
        params, residual = solve(np.array([scale0, yaw, *start_xy]))
        if residual < best_residual and params[0] > 0:
            best, best_residual = params, residual
    return MeshFit(best[0], best[1], best[2], best[3], table, centre, best_residual)
