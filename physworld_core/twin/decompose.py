"""Convex decomposition with CoACD, run in a spawned subprocess.

CoACD can take seconds and, on degenerate input, crash the interpreter; a child process keeps the
pipeline alive and bounds the time.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_module

import numpy as np

from physworld_core.errors import TwinError


def _run(vertices: np.ndarray, faces: np.ndarray, threshold: float, queue) -> None:
    # CoACD's native code is loaded only in the spawned child that runs it (the parent never calls it), so a
    # crash in it stays in the process this module isolates.
    import coacd

    parts = coacd.run_coacd(
        coacd.Mesh(vertices, faces),
        threshold=threshold,
        mcts_iterations=60,
        mcts_max_depth=2,
        preprocess_resolution=30,
    )
    queue.put([(np.asarray(v), np.asarray(f)) for v, f in parts])


def convex_decompose(
    vertices: np.ndarray, faces: np.ndarray, threshold: float = 0.2, timeout_s: float = 120.0
) -> list[tuple[np.ndarray, np.ndarray]]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(
        target=_run, args=(np.asarray(vertices, float), np.asarray(faces, np.int32), threshold, queue)
    )
    proc.start()
    try:
        parts = queue.get(timeout=timeout_s)
    except (queue_module.Empty, EOFError, OSError) as exc:  # timed out, or the child died mid-transfer
        raise TwinError(
            f"CoACD convex decomposition failed or timed out after {timeout_s:.0f} s ({exc!r})"
        ) from None
    finally:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
    if not parts:
        raise TwinError("CoACD returned no convex parts")
    return parts
