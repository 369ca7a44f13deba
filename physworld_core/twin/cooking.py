"""PhysX convex cooking, checked where a crash cannot take the run down.

PhysX's convex-hull cooking crashes the whole process (SIGSEGV, no exception to catch) on a few inputs, such as
exactly coplanar vertex sets that an extruded, grid-snapped reconstruction produces. A twin's collision parts
are therefore cooked once in a child process when the twin is built. A part that crashes it is nudged (scaled
about its centroid by a ten-thousandth and re-hulled), then tried again. So is a part that cooks to no
collision shape at all: PhysX's hull sometimes gives up on a well-formed small hull ("findSimplex: … points
appear to be almost at the same place", seen on a 3 cm cylinder), and the body would fall through the table.
Hulls from real runs that did each are kept as regression tests (tests/twin/test_cooking.py).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import trimesh

from physworld_core.errors import TwinError

MAX_NUDGES = 4
"""Nudges tried per part before the twin is refused."""
_COOK = """
import sys
import sapien
scene = sapien.Scene()
for index, path in enumerate(sys.argv[1:]):
    builder = scene.create_actor_builder()
    builder.add_convex_collision_from_file(path, density=1000.0)
    body = builder.build(name=f"part_{index}").find_component_by_type(sapien.physx.PhysxRigidDynamicComponent)
    if not body.get_collision_shapes():
        sys.exit(f"part {index} cooked to no collision shape")
    print(index, flush=True)
"""


def cook_in_child(paths: list[Path]) -> int:
    """How many of ``paths`` cooked, in order, before the child finished or died."""
    done = subprocess.run(
        [sys.executable, "-c", _COOK, *map(str, paths)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    cooked = len(done.stdout.split())
    if done.returncode != 0 and cooked == len(paths):
        raise TwinError(
            f"cooking the twin's collision parts failed after all of them cooked: {done.stderr[-300:]}"
        )
    return cooked


def nudged(ply: bytes, attempt: int) -> bytes:
    mesh = trimesh.load(io.BytesIO(ply), file_type="ply", force="mesh", process=False)
    vertices = np.asarray(mesh.vertices)
    centre = vertices.mean(0)
    moved = centre + (vertices - centre) * (1.0 + 1e-4 * attempt)
    hull = trimesh.convex.convex_hull(moved)
    buf = io.BytesIO()
    hull.export(buf, file_type="ply")
    return buf.getvalue()


def ensure_cookable(files: dict[str, bytes]) -> dict[str, bytes]:
    """``files`` with every convex collision part (``*_collision_*.ply``) replaced, if needed, by a nudged copy
    that the simulator can cook.

    Raises:
        TwinError: a part still crashes the cooker after :data:`MAX_NUDGES` nudges.
    """
    names = sorted(n for n in files if "_collision_" in n and n.endswith(".ply"))
    out = dict(files)
    attempts: dict[str, int] = {}
    start = 0
    with tempfile.TemporaryDirectory(prefix="physworld-cook-") as tmp:
        while start < len(names):
            paths = []
            for name in names[start:]:
                path = Path(tmp) / name
                path.write_bytes(out[name])
                paths.append(path)
            failed = start + cook_in_child(paths)
            if failed >= len(names):
                break
            name = names[failed]
            attempts[name] = attempts.get(name, 0) + 1
            if attempts[name] > MAX_NUDGES:
                raise TwinError(
                    f"collision part {name} crashes the simulator's cooker even after {MAX_NUDGES} nudges"
                )
            out[name] = nudged(files[name], attempts[name])
            start = failed
    return out
