"""Running on Kubernetes through Dagster's own integration: one pod per step, sized per stage.

``PHYSWORLD_ENV=k8s`` keeps the production resources (S3 lake, credentials from the environment, which the
pods get from the ``physworld-lake`` secret) and runs every step of a run as its own Kubernetes job
(``dagster_k8s.k8s_job_executor``), with the requests, limits and node placement below. The simulator stages
go to CPU nodes; ``videos`` asks for a GPU node only when a learned video backend is configured (the default
procedural backend is CPU). The Helm values that install Dagster itself are in ``infra/k8s/values.yaml``.
"""

from __future__ import annotations

import os

#: Node pools: labels the cluster's nodes carry, and the taint GPU nodes have.
CPU_NODES = {"physworld/pool": "cpu"}
GPU_NODES = {"physworld/pool": "gpu"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}

#: Secret holding PHYSWORLD_LAKE and the AWS_* variables (see infra/k8s/secret.example.yaml).
LAKE_SECRET = "physworld-lake"


def _pod(cpu: str, memory: str, nodes: dict, cpu_limit: str | None = None, gpus: int = 0) -> dict:
    limits = {"cpu": cpu_limit or cpu, "memory": memory}
    if gpus:
        limits["nvidia.com/gpu"] = str(gpus)
    return {
        "container_config": {"resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": limits}},
        "pod_spec_config": {
            "node_selector": nodes,
            **({"tolerations": [GPU_TOLERATION]} if gpus else {}),
        },
    }


#: Per step (op name): what one task's stage needs, measured on the 2-core development machine
#: (ManiSkill on CPU: one env per process; PPO runs 2 envs + the learner).
STEP_PODS: dict[str, dict] = {
    "scenes": _pod("1", "3Gi", CPU_NODES),
    "perceptions": _pod("1", "3Gi", CPU_NODES),
    "videos": _pod("1", "4Gi", CPU_NODES),
    "reconstructions": _pod("2", "6Gi", CPU_NODES),
    "twins": _pod("1", "4Gi", CPU_NODES),
    "policies": _pod("3", "8Gi", CPU_NODES, cpu_limit="4"),
    "evaluations": _pod("2", "6Gi", CPU_NODES),
    "lerobot_dataset": _pod("1", "2Gi", CPU_NODES),
    "video_training_set": _pod("1", "2Gi", CPU_NODES),
}
#: Every other step (the asset checks: a read of one task's rows): small, on a CPU node.
DEFAULT_POD = _pod("250m", "1Gi", CPU_NODES)
#: With a learned video backend (diffusers weights on a volume) the videos step needs a GPU node.
LEARNED_VIDEO_POD = _pod("4", "24Gi", GPU_NODES, gpus=1)


def executor_config(learned_video: bool | None = None) -> dict:
    """Config of ``k8s_job_executor``: the lake secret in every step pod, per-step sizes and placement.

    ``learned_video`` defaults to ``PHYSWORLD_VIDEO_GPU`` (``1`` when the videos step runs a learned model).
    """
    if learned_video is None:
        learned_video = os.environ.get("PHYSWORLD_VIDEO_GPU", "0") == "1"
    per_step = dict(STEP_PODS)
    if learned_video:
        per_step["videos"] = LEARNED_VIDEO_POD
    return {
        "env_secrets": [LAKE_SECRET],
        "env_vars": ["PHYSWORLD_ENV=k8s"],
        "step_k8s_config": DEFAULT_POD,
        "per_step_k8s_config": per_step,
        # A run's steps are sequential but for the exports; two pods at once is enough.
        "max_concurrent": 2,
    }


def k8s_executor():
    """The step-per-pod executor, configured (imported here: dagster-k8s is the ``k8s`` extra)."""
    from dagster_k8s import k8s_job_executor

    return k8s_job_executor.configured(executor_config(), name="physworld_k8s")
