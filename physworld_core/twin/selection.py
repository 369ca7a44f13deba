"""The reconstructions stage: reconstruct every video sample that passed its checks, drive a twin copy of the
object along each tracked trajectory (:mod:`.feasibility`) and keep the sample physics follows best.

It sits in the twin layer because choosing a sample by physics needs a twin; the reconstruction layer does the
rest (:mod:`physworld_core.reconstruction.stage`: reconstructing the candidates, writing the rows).
"""

from __future__ import annotations

import time

from physworld_core.reconstruction.reconstruct import ReconstructionConfig
from physworld_core.reconstruction.stage import (
    ReconstructionStageResult,
    reconstruct_candidates,
    write_reconstruction,
)
from physworld_core.store import Store
from physworld_core.twin.feasibility import FeasibilityConfig, score_reconstructions


def run_reconstruction_stage(
    store: Store,
    task_id: str,
    config: ReconstructionConfig | None = None,
    feasibility: FeasibilityConfig | None = None,
) -> ReconstructionStageResult:
    """Reconstruct every candidate video, score each for physical feasibility in a twin, keep the best.

    Every sample's score goes to ``video_scores`` (so "physically verified" videos can be exported); the
    chosen sample's reconstruction goes to ``reconstructions``.
    """
    start = time.time()
    scene, recons, failures = reconstruct_candidates(store, task_id, config)
    reports = score_reconstructions(recons, scene.camera.to_json(), feasibility or FeasibilityConfig())
    return write_reconstruction(store, task_id, recons, failures, reports, start)
