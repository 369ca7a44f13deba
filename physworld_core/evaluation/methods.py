"""Which methods the evaluation stage runs, and the door for one it does not train: kept apart from the stage
(which loads ManiSkill, the twins and the policies) so that a method's own package — the world model — can
name itself to the stage without importing the simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVALUATED_METHODS = ("planner_only", "physworld", "visual_imitation")
OPTIONAL_METHODS = ("scratch_rl", "oracle_twin")  # evaluated when the policies stage trained them
EPISODE_PLAN_METHOD = "planner_only"
"""The plan an external method's episodes start from (the object's start, the goal its failures are judged by)."""


@dataclass(frozen=True)
class ExternalMethod:
    """A method not trained per task by the policies stage but given to this stage by its caller: the world
    model, trained on every task's exported data, lives after evaluation in the layer order, so the composition
    root (the ``evaluations`` asset) loads it and hands it in.

    Args:
        name: the method's name in the ``evaluations`` rows.
        policy: what acts: a camera policy (``observes_camera``, ``frame_size``, ``actor(world_env)``, see
            :func:`~physworld_core.evaluation.trials.run_trials`); None when there is nothing to run yet.
        skipped: why it was not run (shown on the asset), when ``policy`` is None.
        lineage: which version ran (checkpoint URI and SHA-256), for the asset's metadata.
    """

    name: str
    policy: Any = None
    skipped: str | None = None
    lineage: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.policy is None) == (self.skipped is None):
            raise ValueError(f"method {self.name!r}: give either a policy or the reason it is skipped")
        if self.name in EVALUATED_METHODS + OPTIONAL_METHODS:
            raise ValueError(f"method {self.name!r} is trained by the policies stage, not given from outside")
