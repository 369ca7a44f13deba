"""The one place definitions are merged: assets, checks, job, schedule, resources for the chosen environment."""

from __future__ import annotations

import importlib
import os

import dagster as dg

from pipelines.code_references import with_code_references
from pipelines.jobs import export_job, nightly_generation, physworld_job, world_model_job
from pipelines.resources import resources_for
from pipelines.sensors import inbox_sensor, task_status_on_failure, task_status_on_success

ASSET_MODULES = (
    "assets.scenes",
    "assets.perception",
    "assets.video",
    "assets.reconstruction",
    "assets.twin",
    "assets.policy",
    "assets.evaluation",
    "assets.export",
    "assets.worldmodel",
    "assets.operations",
)
"""The asset modules merged here, one per stage, named after it. Loaded by name: the asset modules import
``pipelines`` (partitions, resources, the retry wrapper), and ``pipelines`` never imports them back
(``tests/pipelines/test_definitions.py`` holds both to it)."""


def build_definitions(env_name: str | None = None) -> dg.Definitions:
    env_name = env_name or os.environ.get("PHYSWORLD_ENV", "local")
    modules = [importlib.import_module(name) for name in ASSET_MODULES]
    return dg.Definitions(
        # Specs too (`tasks`, written outside runs); each asset links to the file and line that defines it.
        assets=with_code_references(dg.load_assets_from_modules(modules, include_specs=True)),
        asset_checks=dg.load_asset_checks_from_modules(modules),
        jobs=[physworld_job, export_job, world_model_job],
        schedules=[nightly_generation],
        sensors=[inbox_sensor, task_status_on_success, task_status_on_failure],
        resources=resources_for(env_name, local_lake=os.environ.get("PHYSWORLD_LAKE")),
        executor=_executor(env_name),
    )


def _executor(env_name: str):
    """Each step in its own Kubernetes pod on ``k8s``; elsewhere Dagster's default (a process per step for
    launched runs, in-process for ``physworld run``)."""
    if env_name != "k8s":
        return None
    from pipelines.k8s import k8s_executor  # dagster-k8s is the k8s extra

    return k8s_executor()


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
