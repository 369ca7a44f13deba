"""The ``oracle_twin`` upper bound: residual PPO trained in the task's true world instead of its twin, a twin
with no reconstruction or physics error. The policy layer trains in whatever world it is handed
(:class:`~physworld_core.policy.task_env.TaskWorld`); handing it the true one is the evaluation layer's, the
only one that may touch the hidden truth."""

from __future__ import annotations

from physworld_core.errors import PhysworldError
from physworld_core.evaluation.worlds import parse_world
from physworld_core.policy.task_env import TaskWorld
from physworld_core.store import Store


def oracle_world(store: Store, task_id: str) -> TaskWorld:
    """The true world of a registered task, for :func:`~physworld_core.policy.stage.run_policy_stage`'s
    ``oracle_world``.

    Raises:
        PhysworldError: the task has no simulated world (a user's capture).
    """
    source = store.one_row("tasks", task_id)["source"]
    try:
        return parse_world(source)
    except PhysworldError as error:
        raise PhysworldError(f"task {task_id}: no oracle_twin: {error}") from error
