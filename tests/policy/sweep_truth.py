"""The sweep world's brush, scraps and dustpan, as the pipeline would model them from a perfect perception."""

from __future__ import annotations

import numpy as np

from physworld_core.reconstruction.types import ReconstructedObject, Reconstruction, Trajectory
from physworld_core.sim.base_env import DEFAULT_CAMERA
from physworld_core.skills.sweep.reconstruction import (
    DustpanGeometry,
    brush_model,
    dustpan_model,
    scrap_model,
)
from physworld_core.twin.build import build_twin


def perfect_reconstruction(seed: int) -> Reconstruction:
    """The sweep world of ``seed`` modelled from its true sizes; the trajectory carries the brush, turned to
    face into the pan, from where it lies to the pan's mouth."""
    from physworld_core.world.sweep import sample_layout

    layout = sample_layout(seed)
    b, pan = layout.brush, layout.dustpan
    facing = np.array([np.cos(b.yaw), np.sin(b.yaw)])
    v, f, part, pose = brush_model(
        np.array([*b.xy, 0.0]),
        facing,
        head_width=b.head_width,
        head_depth=b.head_depth,
        head_height=b.head_height,
        handle_length=b.handle_length,
        handle_width=b.handle_width,
        handle_height=b.handle_height,
    )
    target = ReconstructedObject("target", "target", "brush", v, f, pose, (0.8, 0.2, 0.2), face_part=part)
    scraps = []
    for i, s in enumerate(layout.scraps):
        sv, sf, spose = scrap_model(np.array([*s.xy, 0.0]), np.array(s.half_size), s.yaw, 0.0)
        scraps.append(ReconstructedObject(f"contents_{i}", "contents", "scraps", sv, sf, spose, s.rgba[:3]))
    geometry = DustpanGeometry(
        inner_width=pan.inner_width,
        depth=pan.depth,
        floor_height=pan.floor_thickness,
        lip_length=pan.lip_length,
        wall_height=pan.wall_height,
        wall_thickness=pan.wall_thickness,
    )
    into = np.array([np.cos(pan.yaw), np.sin(pan.yaw)])
    geometry, cv, cf, cpose = dustpan_model(geometry, np.array([*pan.xy, 0.0]), into)
    container = ReconstructedObject(
        "container", "container", "dustpan", cv, cf, cpose, pan.rgba[:3], geometry
    )
    end = cpose.copy()
    end[:3, 3] += [0.0, 0.0, 0.01]
    trajectory = Trajectory(np.array([0.0, 1.0]), np.stack([pose, end]), np.ones(2))
    return Reconstruction(
        f"sweep-{seed:04d}",
        (0.0, 0.0, 1.0),
        0.0,
        (target, *scraps, container),
        trajectory,
        {"skill": "sweep", "relation": "in", "object_noun": "brush", "contents_noun": "scraps"},
    )


def localized_twin(seed: int, folder):
    built = build_twin(perfect_reconstruction(seed), DEFAULT_CAMERA.to_json(), (0.6, 0.4, 0.3))
    for name, data in built.files.items():
        (folder / name).write_bytes(data)
    return built.spec.map_uris(lambda name: str(folder / name))
