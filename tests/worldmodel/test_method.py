"""The ``world_model`` evaluation method: loaded from a stored checkpoint (or skipped, with the reason, before
there is one), run by ``run_trials`` on the same trials as the other methods and scored by the world's own
success test."""

from __future__ import annotations

import hashlib

import pytest

from physworld_core.errors import PhysworldError
from physworld_core.evaluation.methods import ExternalMethod
from physworld_core.store import Store
from physworld_core.worldmodel.policy import METHOD, WorldModelPolicy, world_model_method


@pytest.fixture
def store(tmp_path):
    return Store.at(str(tmp_path / "lake"))


def test_world_model_method_loads_the_stored_checkpoint_with_its_lineage(store, checkpoint):
    ref = store.blobs.put_file(checkpoint)
    method = world_model_method(store, ref.uri)
    assert method.name == METHOD == "world_model" and method.skipped is None
    assert isinstance(method.policy, WorldModelPolicy)
    sha256 = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert method.lineage == {"checkpoint_uri": ref.uri, "checkpoint_sha256": sha256}
    assert method.policy.checkpoint_sha256 == sha256 and method.policy.stride == 2  # 10 fps model, 20 Hz


def test_world_model_method_is_skipped_before_any_checkpoint_and_refuses_a_bad_one(store):
    method = world_model_method(store, None)
    assert method.policy is None and "no world_model checkpoint yet" in method.skipped
    missing = "lake://blobs/sha256/ab/cd/abcd" + "0" * 60 + ".safetensors"
    with pytest.raises(PhysworldError, match="cannot be read"):
        world_model_method(store, missing)
    garbage = store.blobs.put_bytes(b"not a model at all", ".safetensors")
    with pytest.raises(PhysworldError, match="not a readable safetensors checkpoint"):
        world_model_method(store, garbage.uri)


def test_the_world_model_names_itself_to_the_evaluation_stage_without_loading_the_simulator():
    """A process that only trains or serves the world model must not pay for ManiSkill's import."""
    import subprocess
    import sys

    code = (
        "import sys, physworld_core.worldmodel.policy; "
        "print(sorted(m for m in ('mani_skill', 'sapien', 'physworld_core.evaluation.stage') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_external_method_has_a_policy_or_a_reason_and_no_stage_trained_name():
    with pytest.raises(ValueError, match="either a policy or the reason"):
        ExternalMethod("world_model")
    with pytest.raises(ValueError, match="either a policy or the reason"):
        ExternalMethod("world_model", policy=object(), skipped="both")
    with pytest.raises(ValueError, match="trained by the policies stage"):
        ExternalMethod("physworld", policy=object())


def test_world_model_trials_run_in_the_world_from_the_scene_camera(store, checkpoint):
    """``run_trials`` gives a camera policy the world rendered from the scene camera at the model's size, a
    fresh context each trial, scores each trial by the world's own test, and records none of them."""
    from physworld_core.evaluation.rollouts import RecordConfig
    from physworld_core.evaluation.trials import TrialConfig, run_trials
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.sim.base_env import DEFAULT_CAMERA
    from tests.world.test_bin_world import _oracle_plan

    policy = world_model_method(store, store.blobs.put_file(checkpoint).uri).policy
    actors, frames = [], []
    make_actor = policy.actor

    def counted(world_env):
        actor = make_actor(world_env)
        original_reset, original_frame = actor.reset, actor.frame
        actor.resets = 0

        def reset():
            actor.resets += 1
            original_reset()

        actor.reset = reset
        actor.frame = lambda: frames.append(original_frame()) or frames[-1]
        actors.append(actor)
        return actor

    policy.actor = counted
    recordings: dict = {}
    rows = run_trials(
        BenchmarkTask("bin", 3),
        METHOD,
        _oracle_plan(3),
        policy,
        None,
        TrialConfig(trials=2, max_steps=6, seed=1000),
        RecordConfig(trials=1, width=64, height=64),
        DEFAULT_CAMERA,
        recordings,
    )
    assert [(r["method"], r["trial"], r["env_seed"], r["steps"]) for r in rows] == [
        (METHOD, 0, 1000, 6),
        (METHOD, 1, 1001, 6),
    ]
    assert [r["success"] for r in rows] == [False, False]  # six steps cannot put the can in the bin
    assert all(r["failure"] in ("grasp", "reconstruction", "tracking", "execution") for r in rows)
    assert len(actors) == 1 and actors[0].resets == 2  # one world, the context cleared before each trial
    assert len(frames) == 6 and all(f.shape == (16, 16, 3) and f.std() > 5 for f in frames)  # 3 a trial
    assert recordings == {}  # rendered at the model's size, not the record size: not recorded
    with pytest.raises(PhysworldError, match="scene camera is needed"):
        run_trials(BenchmarkTask("bin", 3), METHOD, _oracle_plan(3), policy, None, TrialConfig(trials=1))
