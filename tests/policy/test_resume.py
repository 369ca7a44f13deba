"""PPO resumes after a kill: checkpoints live in the lake's work area, keyed by task, method and settings.

The main test kills the ``policies`` stage with SIGKILL in a subprocess once its first checkpoint is in the
lake, runs the stage again and checks that it carried on from that checkpoint and left nothing behind.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from physworld_core.errors import LakeError
from physworld_core.lake.work import WorkArea
from physworld_core.policy.checkpoint import load_checkpoint
from physworld_core.policy.ppo import CHECKPOINT_NAME, PPOConfig, train_ppo
from physworld_core.policy.stage import WORK_STAGE, checkpoint_key, run_policy_stage
from physworld_core.policy.task_env import ObservationNoise
from physworld_core.policy.train import PolicyTrainConfig
from physworld_core.store import Store
from tests.policy.test_ppo import Killed, point_mass_envs, small_config

TASK = "bin-0003"
STALE_KEY = "physworld-0000000000000000"
UPDATES = 12
REPO = Path(__file__).resolve().parents[2]


def tiny_config() -> PolicyTrainConfig:
    """12 updates of 16 steps in one in-process twin env, a checkpoint after each: ~0.2 s per update here."""
    return PolicyTrainConfig(
        ppo=PPOConfig(
            total_env_steps=16 * UPDATES,
            num_steps=16,
            hidden_sizes=(16, 16),
            update_epochs=1,
            num_minibatches=2,
            checkpoint_every=1,
        ),
        num_envs=1,
        async_envs=False,
        eval_episodes=1,
        max_steps=20,
    )


# The killed run: the same stage call the asset makes, in a process of its own.
KILLED_RUN = """
import json, sys
from physworld_core.policy.stage import run_policy_stage
from physworld_core.store import Store
from tests.policy.test_resume import TASK, tiny_config

run_policy_stage(Store.at(sys.argv[1], json.loads(sys.argv[2])), TASK, tiny_config(), progress=False)
"""


def _store_twin(store, spec_local) -> None:
    """A twins row whose meshes are blobs of ``store``: what the twin stage leaves for the policies stage."""
    spec = spec_local.map_uris(lambda path: store.blobs.put_file(path).uri)
    row = {
        "spec_json": spec.to_json(),
        "spec_uri": "",
        "settle_json": "{}",
        "passed": True,
        "seconds": 0.0,
        "max_penetration_m": 0.0,
        "max_drift_m": 0.0,
    }
    store.lake.write_partition("twins", [{"task_id": TASK, **row}], TASK)


def _wait_for_first_checkpoint(
    process: subprocess.Popen, work: WorkArea, stderr: Path, timeout_s: float = 180.0
) -> str:
    """The key of the task's work folder once it holds a checkpoint (polled every 20 ms: an update is ~0.2 s)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for key in work.keys(WORK_STAGE, TASK):
            if key != STALE_KEY and CHECKPOINT_NAME in work.folder(WORK_STAGE, TASK, key).files():
                return key
        if process.poll() is not None:
            pytest.fail(
                f"the stage exited ({process.returncode}) before a checkpoint was in the lake:\n"
                + stderr.read_text()[-3000:]
            )
        time.sleep(0.02)
    pytest.fail(f"no checkpoint under {work.task_uri(WORK_STAGE, TASK)} after {timeout_s} s")


@pytest.fixture(params=["local", pytest.param("s3", marks=[pytest.mark.s3, pytest.mark.slow])])
def lake(request, tmp_path, monkeypatch):
    """``(root, storage_options)`` of an empty lake; temp files of this process and its children go to
    ``tmp_path/tmp`` so the test can see what they leave behind. The S3 stage run (~15-25 s here) is slow-
    marked: the S3 upload and resume themselves are tested cheaply below, on the work folder and train_ppo."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    if request.param == "local":
        return str(tmp_path / "lake"), None
    return request.getfixturevalue("s3_root"), request.getfixturevalue("s3_options")


def test_policies_stage_killed_with_sigkill_resumes_and_cleans_up(lake, bin_twin_local, tmp_path, caplog):
    root, options = lake
    store = Store.at(root, options)
    _store_twin(store, bin_twin_local)
    work = WorkArea.from_lake(store.lake)
    # Left by runs with other settings (a stale fingerprint) and by another task: only the former goes.
    for task, key in ((TASK, STALE_KEY), ("other-task", STALE_KEY)):
        stale = work.folder(WORK_STAGE, task, key)
        stale.pull()
        (stale.local / CHECKPOINT_NAME).write_bytes(b"not resumed: another run's")
        stale.push(CHECKPOINT_NAME)

    stderr = tmp_path / "killed-run.stderr"
    with open(stderr, "wb") as stderr_file:
        process = subprocess.Popen(
            [sys.executable, "-c", KILLED_RUN, root, json.dumps(options)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
        )
    try:
        key = _wait_for_first_checkpoint(process, work, stderr)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    folder = work.folder(WORK_STAGE, TASK, key)
    assert folder.pull() == [CHECKPOINT_NAME]
    killed_at = load_checkpoint(folder.local / CHECKPOINT_NAME)[2]["update"]
    assert 1 <= killed_at < UPDATES, "the kill landed mid-training"

    logged = []
    with caplog.at_level(logging.INFO, logger="physworld_core.policy"):
        result = run_policy_stage(store, TASK, tiny_config(), progress=False, log_fn=logged.append)

    twin_json = store.one_row("twins", TASK)["spec_json"]
    assert key == checkpoint_key("physworld", tiny_config(), result.plan, twin_json, None)
    trained = result.residual.train
    assert f"resuming from update {killed_at} of {UPDATES}" in caplog.text
    assert trained.resumed_from_update == killed_at
    assert [entry["update"] for entry in logged] == list(range(killed_at + 1, UPDATES + 1))
    assert [entry["update"] for entry in trained.curve] == list(range(1, UPDATES + 1))
    assert trained.env_steps == 16 * UPDATES

    row = next(
        r
        for r in store.lake.read_partition("policies", TASK).iter_rows(named=True)
        if r["method"] == "physworld"
    )
    stored = store.blobs.local_path(row["checkpoint_uri"])
    assert load_checkpoint(stored)[2]["update"] == UPDATES
    assert json.loads(row["curve_json"]) == trained.curve

    assert work.keys(WORK_STAGE, TASK) == [], "the finished and the stale work folders are gone"
    assert work.keys(WORK_STAGE, "other-task") == [STALE_KEY]
    temp = Path(tempfile.gettempdir())
    assert not list(temp.glob("physworld-ppo-*"))
    assert not list(temp.glob(f"physworld-work/*/{WORK_STAGE}/{TASK}")), "no local mirror of the task left"


def test_checkpoint_key_names_what_a_checkpoint_depends_on():
    plan, twin_json, cfg = SimpleNamespace(to_json=lambda: '{"waypoints": [1]}'), '{"twin": 1}', tiny_config()
    key = checkpoint_key("physworld", cfg, plan, twin_json, None)
    assert re.fullmatch(r"physworld-[0-9a-f]{16}", key)
    # A killed run may be continued with another budget, cadence, env runner or scoring.
    for same in (
        replace(cfg, ppo=replace(cfg.ppo, total_env_steps=10_000, checkpoint_every=7)),
        replace(cfg, eval_episodes=20, async_envs=True),
    ):
        assert checkpoint_key("physworld", same, plan, twin_json, None) == key
    others = [
        ("scratch_rl", cfg, plan, twin_json, None),
        ("oracle_twin", cfg, plan, twin_json, "benchmark:bin:3"),
        ("physworld", replace(cfg, ppo=replace(cfg.ppo, learning_rate=1e-3)), plan, twin_json, None),
        ("physworld", replace(cfg, num_envs=2), plan, twin_json, None),
        ("physworld", replace(cfg, noise=ObservationNoise(bias_m=0.01)), plan, twin_json, None),
        ("physworld", cfg, SimpleNamespace(to_json=lambda: '{"waypoints": [2]}'), twin_json, None),
        ("physworld", cfg, plan, '{"twin": 2}', None),
    ]
    assert len({key, *(checkpoint_key(*args) for args in others)}) == 1 + len(others)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def work_area(request, tmp_path) -> WorkArea:
    root, options = str(tmp_path / "lake"), None
    if request.param == "s3":
        root, options = request.getfixturevalue("s3_root"), request.getfixturevalue("s3_options")
    return WorkArea(root, options, cache_dir=str(tmp_path / "machine-a"))


def test_work_folder_pushes_whole_files_and_clears_one_task(work_area, tmp_path):
    folder = work_area.folder("policies", "t1", "physworld-abc")
    assert folder.pull() == [] and folder.local.is_dir()
    (folder.local / CHECKPOINT_NAME).write_bytes(b"update 1")
    folder.push(CHECKPOINT_NAME)
    (folder.local / CHECKPOINT_NAME).write_bytes(b"update 2, longer")
    assert (
        folder.push(CHECKPOINT_NAME) == f"{work_area.root}/work/policies/t1/physworld-abc/{CHECKPOINT_NAME}"
    )
    assert folder.files() == [CHECKPOINT_NAME]

    # Another machine (an empty mirror) gets the last push, whole.
    elsewhere = replace(work_area, cache_dir=str(tmp_path / "machine-b")).folder(
        "policies", "t1", "physworld-abc"
    )
    assert elsewhere.pull() == [CHECKPOINT_NAME]
    assert (elsewhere.local / CHECKPOINT_NAME).read_bytes() == b"update 2, longer"
    # On S3 a mirror file that was never pushed (a kill between save and upload) is dropped by the next pull.
    (folder.local / "unpushed.bin").write_bytes(b"x")
    assert folder.pull() == ([CHECKPOINT_NAME] if work_area.is_s3 else [CHECKPOINT_NAME, "unpushed.bin"])

    neighbour = work_area.folder("policies", "t10", "physworld-abc")
    neighbour.pull()
    (neighbour.local / CHECKPOINT_NAME).write_bytes(b"t10's")
    neighbour.push(CHECKPOINT_NAME)
    assert work_area.keys("policies", "t1") == ["physworld-abc"]
    work_area.clear("policies", "t1")
    assert work_area.keys("policies", "t1") == [] and not folder.local.exists()
    assert work_area.keys("policies", "t10") == ["physworld-abc"], "a task whose id extends t1's is kept"
    work_area.clear("policies", "t1")  # nothing left to clear is fine


@pytest.mark.parametrize(
    ("stage", "task_id", "key"),
    [
        ("policies", "../t1", "k"),
        ("policies", "t1", "a/b"),
        ("policies", "t1", ".."),
        ("po/licies", "t1", "k"),
    ],
)
def test_work_folder_refuses_names_that_leave_it(tmp_path, stage, task_id, key):
    with pytest.raises(LakeError, match="work folder"):
        WorkArea(str(tmp_path)).folder(stage, task_id, key)


def test_push_refuses_a_missing_file_or_a_path(tmp_path):
    folder = WorkArea(str(tmp_path)).folder("policies", "t1", "k")
    folder.pull()
    with pytest.raises(LakeError, match="no file 'ppo.safetensors'"):
        folder.push(CHECKPOINT_NAME)
    with pytest.raises(LakeError, match="file name '../x'"):
        folder.push("../x")


@pytest.mark.s3
def test_train_ppo_resumes_on_another_machine_from_the_checkpoint_uploaded_to_s3(
    s3_root, s3_options, tmp_path
):
    cfg = small_config(total_env_steps=32 * 5, checkpoint_every=1)  # 2 envs x 16 steps: 5 updates

    def kill_after_update_2(entry):
        if entry["update"] == 2:
            raise Killed

    folder = WorkArea(s3_root, s3_options, cache_dir=str(tmp_path / "a")).folder(
        "policies", "t1", "physworld-x"
    )
    folder.pull()
    with pytest.raises(Killed):
        train_ppo(
            point_mass_envs(num_envs=2),
            cfg,
            residual=True,
            checkpoint_dir=folder.local,
            log_fn=kill_after_update_2,
            progress=False,
            on_checkpoint=lambda path: folder.push(path.name),
        )

    moved = WorkArea(s3_root, s3_options, cache_dir=str(tmp_path / "b")).folder(
        "policies", "t1", "physworld-x"
    )
    assert moved.pull() == [CHECKPOINT_NAME]
    assert load_checkpoint(moved.local / CHECKPOINT_NAME)[2]["update"] == 2
    result = train_ppo(
        point_mass_envs(num_envs=2),
        cfg,
        residual=True,
        checkpoint_dir=moved.local,
        progress=False,
        on_checkpoint=lambda path: moved.push(path.name),
    )
    assert result.resumed_from_update == 2
    assert [entry["update"] for entry in result.curve] == [1, 2, 3, 4, 5]
    assert folder.pull() == [CHECKPOINT_NAME]
    assert load_checkpoint(folder.local / CHECKPOINT_NAME)[2]["update"] == 5, "the last checkpoint went up"
