"""The world model wired into the pipeline: the ``learned`` video backend registered by the composition root
(selectable by the videos asset's config, its videos naming the checkpoint that made them) and the
``world_model`` method of the evaluations asset (skipped with a note before any checkpoint)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from physworld_core.errors import PhysworldError
from physworld_core.store import Store
from tests.worldmodel.conftest import square_frame
from tests.worldmodel.test_policy_and_backend import DOWN

REPO = Path(__file__).resolve().parents[2]


def test_the_video_stage_knows_the_learned_backend_only_through_the_composition_root():
    """The video package never names it (layers); importing the assets registers it, still without torch."""
    probe = (
        "import sys; import physworld_core.video.backends as b; before = 'learned' in set(b.BACKENDS) | "
        "set(b.DEFERRED); import assets.video; print(before, 'learned' in b.DEFERRED, 'torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=300, check=True
    )
    assert done.stdout.split() == ["False", "True", "False"]


def test_learned_videos_record_the_checkpoint_that_made_them(tmp_path, checkpoint):
    import assets.video  # noqa: F401  (registers the learned backend)
    from assets.video import learned_settings
    from physworld_core.scene import CameraSpec, ScenePackage
    from physworld_core.video import backends
    from physworld_core.worldmodel.backend import LearnedVideoBackend

    store = Store.at(str(tmp_path / "lake"))
    ref = store.blobs.put_file(checkpoint)
    settings = learned_settings(store, ref.uri)
    assert settings["checkpoint_uri"] == ref.uri and Path(settings["checkpoint"]).is_file()
    backend = backends.load("learned", {**settings, "num_frames": 4, "seed": 1})
    assert type(backend) is LearnedVideoBackend and backends.BACKENDS["learned"] is LearnedVideoBackend
    size = 32
    scene = ScenePackage(
        "square-0001",
        square_frame(np.array([0.4, 0.5]), np.array([0.7, 0.5]), size),
        np.ones((size, size), np.float32),
        CameraSpec(fx=size, fy=size, cx=size / 2, cy=size / 2, width=size, height=size, cam_to_world=DOWN),
        "move the square",
    )
    video = backend.generate(scene)
    assert video.frames.shape == (4, size, size, 3)
    assert video.plan["backend"] == "learned" and video.plan["checkpoint_uri"] == ref.uri
    assert video.plan["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    with pytest.raises(PhysworldError, match="needs a trained world model"):
        learned_settings(store, None)
    with pytest.raises(ValueError, match="already registered by the video stage"):
        backends.register("procedural", lambda: LearnedVideoBackend)


def test_the_videos_asset_with_the_learned_backend_and_no_model_fails_with_the_reason(tmp_path):
    from assets.video import videos
    from pipelines.resources import StoreResource

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tasks", ["square-0001"])
    result = dg.materialize(
        [videos],
        partition_key="square-0001",
        resources={"store": StoreResource(root=str(tmp_path / "lake"))},
        run_config={"ops": {"videos": {"config": {"backend": "learned"}}}},
        instance=instance,
        raise_on_error=False,
        selection=[videos],
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "needs a trained world model" in failure.to_string()


def test_the_evaluations_asset_runs_the_world_model_from_the_latest_checkpoint_or_skips_it(
    tmp_path, checkpoint
):
    """On by default: before any world_model materialization it is skipped with the reason; then the latest
    materialization's checkpoint runs, and one given in the config wins."""
    from assets.evaluation import EvaluationConfig, external_methods
    from physworld_core.worldmodel.policy import WorldModelPolicy

    store = Store.at(str(tmp_path / "lake"))
    instance = dg.DagsterInstance.ephemeral()
    (method,) = external_methods(instance, EvaluationConfig(), store)
    assert (
        method.name == "world_model"
        and method.policy is None
        and "no world_model checkpoint" in method.skipped
    )
    assert external_methods(instance, EvaluationConfig(world_model=False), store) == ()

    latest = store.blobs.put_file(checkpoint)
    instance.report_runless_asset_event(
        dg.AssetMaterialization("world_model", metadata={"checkpoint_uri": dg.MetadataValue.path(latest.uri)})
    )
    (method,) = external_methods(instance, EvaluationConfig(), store)
    assert isinstance(method.policy, WorldModelPolicy) and method.lineage["checkpoint_uri"] == latest.uri
    with pytest.raises(PhysworldError, match="cannot be read"):
        external_methods(
            instance, EvaluationConfig(world_model_checkpoint=str(tmp_path / "none.safetensors")), store
        )


def test_an_unknown_backend_names_the_stage_s_own_and_the_registered_ones():
    import assets.video  # noqa: F401  (registers the learned backend)
    from physworld_core.video import backends

    with pytest.raises(
        ValueError, match=r"registered: diffusers, procedural \(and from later layers: learned\)"
    ):
        backends.load("sora")
