"""The simulator pool: how many ManiSkill-heavy steps run at once across every run of the instance.

A twin build, a PPO learner and a ground-truth evaluation each keep one core busy (ManiSkill's CPU renderer
and physics, one torch thread). Two runs of two tasks on a 2-core machine would otherwise put four of them on
two cores, every one slower than alone. The assets that simulate carry ``pool=SIMULATOR_POOL``; Dagster makes a
step wait for a free slot of the pool (``concurrency.pools`` in the instance's ``dagster.yaml``), and this module
sizes the pool from the machine: one slot per core, or ``PHYSWORLD_SIMULATOR_SLOTS`` where the machine that
launches is not the one that simulates (a cluster: the Helm values set it to the nodes' total).

A slot is held by a run until its step ends. A run killed with ``kill -9`` never gives it back: the daemon frees
the slots of runs that ended (``run_monitoring.free_slots_after_run_end_seconds``), and
:func:`free_slots_of_dead_runs` frees those of runs whose worker process is gone before it is even marked
failed, so a killed run never holds up the queue.
"""

from __future__ import annotations

import logging
import os

import dagster as dg

from pipelines.launcher import WorkerStatus, worker_health

SIMULATOR_POOL = "simulator"
"""The pool of the assets that run the simulator (reconstructions' feasibility, twins, policies, evaluations)."""

SLOTS_ENV = "PHYSWORLD_SIMULATOR_SLOTS"

log = logging.getLogger(__name__)


def simulator_slots() -> int:
    """Slots of the simulator pool: ``PHYSWORLD_SIMULATOR_SLOTS`` if set, else this machine's cores.

    Raises:
        ValueError: the variable is not a positive whole number.
    """
    raw = os.environ.get(SLOTS_ENV)
    if raw is None or not raw.strip():
        return max(1, os.cpu_count() or 1)
    try:
        slots = int(raw)
    except ValueError:
        slots = 0
    if slots < 1:
        raise ValueError(f"{SLOTS_ENV} must be a whole number ≥ 1 (slots of the simulator pool), got {raw!r}")
    return slots


def ensure_pool_limits(instance: dg.DagsterInstance) -> int | None:
    """Give the simulator pool its size unless a person set one (in the UI or with ``dagster instance
    concurrency set``): a limit set by hand is kept. Returns the pool's limit (``None``: the instance's storage
    has no pools, as an ephemeral instance)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return None
    limits = {limit.name: limit for limit in storage.get_pool_limits()}
    current = limits.get(SIMULATOR_POOL)
    if current is not None and not current.from_default:
        return current.limit
    slots = simulator_slots()
    storage.set_concurrency_slots(SIMULATOR_POOL, slots)
    return slots


def free_slots_of_dead_runs(instance: dg.DagsterInstance, launched_worker=None) -> list[str]:
    """Free the pool slots held by runs that ended or whose worker process is gone (checked on this host;
    ``launched_worker``: how the launcher finds the workers it started, see :func:`worker_health`). Returns
    the ids of the runs whose slots were freed."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders = set(storage.get_concurrency_run_ids())  # runs with steps waiting for or holding a slot
    for pool in storage.get_concurrency_keys():
        holders |= storage.get_concurrency_info(pool).active_run_ids
    freed = []
    for run_id in sorted(holders):
        record = instance.get_run_record_by_id(run_id)
        ended = record is None or record.dagster_run.is_finished
        if (
            ended
            or worker_health(instance, record.dagster_run, launched_worker).status == WorkerStatus.FAILED
        ):
            storage.free_concurrency_slots_for_run(run_id)
            freed.append(run_id)
            log.info("freed the pool slots held by run %s (it ended or its worker is gone)", run_id)
    return freed


def prepare_pools(instance: dg.DagsterInstance, launched_worker=None) -> None:
    """What the launching side (the run launcher, ``physworld run``) does before a run starts: size the pool,
    free what dead runs hold."""
    ensure_pool_limits(instance)
    free_slots_of_dead_runs(instance, launched_worker)
