"""The simulator pool: the simulating assets are in it, it is sized from the machine, a size set by hand is
kept, and slots held by a run whose worker was killed go back to the pool — on a real SQLite instance
configured from ``infra/dagster.local.yaml``."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import psutil
import pytest

from pipelines.launcher import HOST_TAG, PID_TAG, STARTED_TAG, worker_tags
from pipelines.pools import (
    SIMULATOR_POOL,
    ensure_pool_limits,
    free_slots_of_dead_runs,
    simulator_slots,
)


@pytest.fixture
def instance(home, monkeypatch):
    monkeypatch.delenv("PHYSWORLD_SIMULATOR_SLOTS", raising=False)
    with dg.DagsterInstance.get() as instance:
        yield instance


def _limit(instance) -> int | None:
    limits = {p.name: p for p in instance.event_log_storage.get_pool_limits()}
    return limits[SIMULATOR_POOL].limit if SIMULATOR_POOL in limits else None


def test_the_simulating_assets_are_in_the_pool_and_the_others_are_not():
    from pipelines.definitions import build_definitions

    graph = build_definitions("local").resolve_asset_graph()
    pools = {key.to_user_string(): graph.get(key).pools for key in graph.executable_asset_keys}
    for simulating in ("reconstructions", "twins", "policies"):
        assert pools[simulating] == {SIMULATOR_POOL}, (simulating, pools[simulating])
    for light in ("scenes", "perceptions", "videos"):
        assert SIMULATOR_POOL not in (pools[light] or set()), light


def test_the_pool_is_sized_from_the_machine_and_a_size_set_by_hand_is_kept(instance, monkeypatch):
    assert _limit(instance) in (None, 1)  # the dagster.yaml default until the launcher sizes it
    assert ensure_pool_limits(instance) == os.cpu_count() == _limit(instance)
    instance.event_log_storage.set_concurrency_slots(SIMULATOR_POOL, 7)  # a person, in the UI
    assert ensure_pool_limits(instance) == 7 == _limit(instance)

    monkeypatch.setenv("PHYSWORLD_SIMULATOR_SLOTS", "12")
    assert simulator_slots() == 12
    for bad in ("0", "-1", "two"):
        monkeypatch.setenv("PHYSWORLD_SIMULATOR_SLOTS", bad)
        with pytest.raises(ValueError, match="PHYSWORLD_SIMULATOR_SLOTS must be a whole number"):
            simulator_slots()


def _run_holding_a_slot(instance, tags: dict[str, str]) -> str:
    run = instance.create_run_for_job(
        dg.GraphDefinition("noop", node_defs=[]).to_job(), tags=tags, status=dg.DagsterRunStatus.STARTED
    )
    claim = instance.event_log_storage.claim_concurrency_slot(SIMULATOR_POOL, run.run_id, "policies")
    assert claim.is_claimed
    return run.run_id


def test_slots_of_a_killed_worker_go_back_and_a_live_workers_stay(instance):
    instance.event_log_storage.set_concurrency_slots(SIMULATOR_POOL, 2)
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = psutil.Process(worker.pid).create_time()
    dead_tags = {HOST_TAG: worker_tags()[HOST_TAG], PID_TAG: str(worker.pid), STARTED_TAG: f"{started:.3f}"}
    dead = _run_holding_a_slot(instance, dead_tags)
    alive = _run_holding_a_slot(instance, worker_tags())  # this process: alive
    worker.kill()
    worker.wait()

    info = instance.event_log_storage.get_concurrency_info(SIMULATOR_POOL)
    assert info.active_slot_count == 2 and info.slot_count == 2  # the pool is full: a third step would wait

    assert free_slots_of_dead_runs(instance) == [dead]
    info = instance.event_log_storage.get_concurrency_info(SIMULATOR_POOL)
    assert info.active_slot_count == 1 and info.active_run_ids == {alive}
    assert free_slots_of_dead_runs(instance) == []  # nothing more to free; the live run keeps its slot
