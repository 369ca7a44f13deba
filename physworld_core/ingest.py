"""Tasks and scenes: register a task (its source and prompt) and turn its source into a stored scene package.

A task's source is ``benchmark:<family>:<seed>`` (a procedural world renders the frame),
``maniskill:<env id>:<seed>[:<W>x<H>[:<camera>]]`` (a stock ManiSkill env's sensor camera),
``package:<manifest uri>`` (a user's capture accepted from the lake's inbox, stored as blobs) or a path to a
scene-package folder. Either way the ``scenes`` row holds the same thing: RGB and depth
blobs, the camera JSON and the prompt.
"""

from __future__ import annotations

import io
import json

import numpy as np

from physworld_core.errors import SceneError
from physworld_core.scene import CameraSpec, ScenePackage, load_scene_package, validate_task_id
from physworld_core.store import Store


def register_task(store: Store, task_id: str, source: str, prompt: str | None = None) -> dict:
    """Write the ``tasks`` row. For benchmark sources the prompt comes from the world when not given."""
    validate_task_id(task_id)
    family, seed = None, None
    if source.startswith("benchmark:"):
        from physworld_core.evaluation.worlds import BenchmarkTask

        bench = BenchmarkTask.parse(source)
        family, seed = bench.family, bench.seed
        if prompt is None:
            from physworld_core.world import get_family

            fam = get_family(bench.family)
            prompt = fam.prompt_for(fam.sample_layout(bench.seed), None)
    elif source.startswith("maniskill:"):
        from physworld_core.evaluation.stock import StockTask

        try:
            stock = StockTask.parse(source)
        except ValueError as error:
            raise SceneError(f"task {task_id}: {error}") from error
        family, seed = stock.family, stock.seed
        if prompt is None:
            raise SceneError(f"task {task_id}: a ManiSkill env has no prompt of its own; give --prompt")
    elif source.startswith("package:"):
        if prompt is None:
            raise SceneError(f"task {task_id}: a stored package is registered with its prompt")
    else:
        package = load_scene_package(source, task_id=task_id)  # validate before anything is registered
        prompt = prompt if prompt is not None else package.prompt
    if not prompt or not prompt.strip():
        raise SceneError(f"task {task_id}: the prompt is empty")
    row = {"task_id": task_id, "source": source, "prompt": prompt.strip(), "family": family, "seed": seed}
    store.lake.write_partition("tasks", [row], task_id)
    return row


def capture_from_source(store: Store, task_id: str, source: str, prompt: str) -> ScenePackage:
    """The scene a task's source describes: a benchmark world's render, a stored inbox package, or a folder."""
    if source.startswith(("benchmark:", "maniskill:")):
        from physworld_core.evaluation.worlds import parse_world

        scene = parse_world(source).capture(task_id=task_id, prompt=prompt)
    elif source.startswith("package:"):
        import tempfile
        from pathlib import Path

        from physworld_core.inbox import fetch_package

        with tempfile.TemporaryDirectory(prefix="physworld-package-") as tmp:
            folder = fetch_package(store, source[len("package:") :], Path(tmp) / task_id)
            scene = load_scene_package(folder, task_id=task_id)
    else:
        scene = load_scene_package(source, task_id=task_id)
    if prompt != scene.prompt:
        scene = ScenePackage(
            task_id=task_id,
            rgb=scene.rgb,
            depth_m=scene.depth_m,
            camera=scene.camera,
            prompt=prompt,
            source=source,
        )
    return scene


def ingest_scene(store: Store, task_id: str) -> ScenePackage:
    """The ``scenes`` stage: capture/load, validate, store blobs, write the row (last, so failures write nothing)."""
    from PIL import Image

    task = store.one_row("tasks", task_id)
    scene = capture_from_source(store, task_id, task["source"], task["prompt"])
    png = io.BytesIO()
    Image.fromarray(scene.rgb).save(png, format="PNG")
    rgb_ref = store.blobs.put_bytes(png.getvalue(), ".png")
    npy = io.BytesIO()
    np.save(npy, scene.depth_m.astype(np.float32), allow_pickle=False)
    depth_ref = store.blobs.put_bytes(npy.getvalue(), ".npy")
    store.lake.write_partition(
        "scenes",
        [
            {
                "task_id": task_id,
                "rgb_uri": rgb_ref.uri,
                "rgb_sha256": rgb_ref.sha256,
                "depth_uri": depth_ref.uri,
                "depth_sha256": depth_ref.sha256,
                "camera_json": scene.camera.to_json(),
                "prompt": scene.prompt,
                "source": scene.source,
                "width": scene.width,
                "height": scene.height,
            }
        ],
        task_id,
    )
    return scene


def load_scene(store: Store, task_id: str) -> ScenePackage:
    """Read a stored scene package back (blobs are hash-verified)."""
    from PIL import Image

    row = store.one_row("scenes", task_id)
    rgb = np.asarray(
        Image.open(io.BytesIO(store.blobs.get_bytes(row["rgb_uri"]))).convert("RGB"), dtype=np.uint8
    )
    depth = np.load(io.BytesIO(store.blobs.get_bytes(row["depth_uri"])), allow_pickle=False)
    camera = CameraSpec.from_dict(json.loads(row["camera_json"]), f"scenes/{task_id}/camera_json")
    return ScenePackage(
        task_id=task_id, rgb=rgb, depth_m=depth, camera=camera, prompt=row["prompt"], source=row["source"]
    )
