"""Kubernetes without a cluster: the instance built from the production launcher config and the Kubernetes
job of the run and of every step, each made by dagster-k8s's own code, carry the resources, node placement,
tolerations, environment and secrets that ``infra/k8s/`` and ``pipelines/k8s.py`` state."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VALUES = yaml.safe_load((REPO / "infra" / "k8s" / "values.yaml").read_text())
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


@pytest.fixture
def k8s_instance(tmp_path, monkeypatch, postgres_server):
    """The production instance (Postgres) with the chart's K8sRunLauncher, from a dagster.yaml built out of
    infra/dagster.prod.yaml and the launcher settings of infra/k8s/values.yaml."""
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    launcher = VALUES["runLauncher"]["config"]["k8sRunLauncher"]
    config = yaml.safe_load((REPO / "infra" / "dagster.prod.yaml").read_text())
    config["run_launcher"] = {
        "module": "dagster_k8s",
        "class": "K8sRunLauncher",
        "config": {
            "service_account_name": VALUES["global"]["serviceAccountName"],
            "instance_config_map": "physworld-dagster-instance",
            "job_namespace": "physworld",
            "load_incluster_config": False,
            "kubeconfig_file": str(tmp_path / "kubeconfig"),
            "env_vars": launcher["envVars"],
            "env_secrets": [s["name"] for s in launcher["envSecrets"]],
            "run_k8s_config": {
                "container_config": launcher["runK8sConfig"]["containerConfig"],
                "pod_spec_config": {
                    "node_selector": launcher["runK8sConfig"]["podSpecConfig"]["nodeSelector"]
                },
            },
        },
    }
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for key, value in postgres_server.environment().items():
        monkeypatch.setenv(key, value)
    with dg.DagsterInstance.get() as instance:
        yield instance


def _container(job):
    [container] = job.spec.template.spec.containers
    return container


def test_values_and_pipelines_agree_on_the_secret_and_environment():
    from pipelines.k8s import LAKE_SECRET

    [deployment] = VALUES["dagster-user-deployments"]["deployments"]
    assert {"name": "PHYSWORLD_ENV", "value": "k8s"} in deployment["env"]
    assert {"name": LAKE_SECRET} in deployment["envSecrets"]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", "pipelines.definitions"]
    assert {"name": LAKE_SECRET} in VALUES["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]
    assert VALUES["dagsterDaemon"]["runMonitoring"]["enabled"]
    secret = yaml.safe_load((REPO / "infra" / "k8s" / "secret.example.yaml").read_text())
    assert secret["metadata"]["name"] == LAKE_SECRET
    assert {"PHYSWORLD_LAKE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(secret["stringData"])


def test_the_run_pod_and_every_step_pod_are_what_the_config_says(k8s_instance, monkeypatch):
    from dagster_k8s import K8sRunLauncher
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import (
        UserDefinedDagsterK8sConfig,
        construct_dagster_k8s_job,
        get_user_defined_k8s_config,
    )

    from pipelines.definitions import build_definitions
    from pipelines.k8s import CPU_NODES, DEFAULT_POD, GPU_TOLERATION, LAKE_SECRET, executor_config

    launcher = k8s_instance.run_launcher
    assert (
        isinstance(launcher, K8sRunLauncher)
        and type(k8s_instance.run_storage).__name__ == "PostgresRunStorage"
    )
    monkeypatch.setenv("PHYSWORLD_ENV", "k8s")
    for key, value in {  # what the secret gives the pods; nothing is contacted here
        "PHYSWORLD_LAKE": "s3://physworld/lake",
        "AWS_ENDPOINT_URL": "https://s3.example",
        "AWS_ACCESS_KEY_ID": "id",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    defs = build_definitions("k8s")
    job_def = defs.resolve_job_def("physworld")
    assert job_def.executor_def.name == "physworld_k8s"
    run = k8s_instance.create_run_for_job(job_def, tags={"dagster/partition": "bin-0003"})

    # The run pod: the launcher's own container context and job construction.
    context = launcher.get_container_context_for_run(run)
    run_job = construct_dagster_k8s_job(
        context.get_k8s_job_config(job_image="physworld:0.1.0", run_launcher=launcher),
        args=["dagster", "api", "execute_run"],
        job_name="dagster-run-x",
        user_defined_k8s_config=context.run_k8s_config,
        component="run_worker",
    )
    container = _container(run_job)
    assert container.resources.requests == {"cpu": "250m", "memory": "1Gi"}
    assert run_job.spec.template.spec.node_selector == CPU_NODES
    assert [e.secret_ref.name for e in container.env_from] == [LAKE_SECRET]
    assert {e.name: e.value for e in container.env}["PHYSWORLD_ENV"] == "k8s"

    # Every step of the job: executor config merged the way k8s_job_executor merges it for that op.
    executor = executor_config(learned_video=True)
    ops = {node.name for node in job_def.graph.nodes}
    assert {"scenes", "videos", "reconstructions", "twins", "policies", "evaluations"} <= ops  # + checks
    for op in sorted(ops):
        step_context = context.merge(
            K8sContainerContext(
                env_secrets=executor["env_secrets"],
                env_vars=executor["env_vars"],
                run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(executor["step_k8s_config"]),
            )
        )
        step_context = step_context.merge(
            K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(job_def.graph.node_named(op).tags))
        ).merge(
            K8sContainerContext(
                run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(
                    executor["per_step_k8s_config"].get(op, {})
                )
            )
        )
        step_job = construct_dagster_k8s_job(
            step_context.get_k8s_job_config(job_image="physworld:0.1.0", run_launcher=launcher),
            args=["dagster", "api", "execute_step"],
            job_name=f"dagster-step-{op}",
            user_defined_k8s_config=step_context.run_k8s_config,
            component="step_worker",
        )
        container, spec = _container(step_job), step_job.spec.template.spec
        pod = executor["per_step_k8s_config"].get(op, DEFAULT_POD)
        wanted = pod["container_config"]["resources"]
        assert container.resources.requests == wanted["requests"], op
        assert container.resources.limits == wanted["limits"], op
        assert LAKE_SECRET in [e.secret_ref.name for e in container.env_from], op
        assert {e.name: e.value for e in container.env}["PHYSWORLD_ENV"] == "k8s", op
        if op == "videos":  # a learned video backend: a GPU node, tolerating its taint
            assert container.resources.limits["nvidia.com/gpu"] == "1"
            assert spec.node_selector == {"physworld/pool": "gpu"}
            assert [t.key for t in spec.tolerations] == [GPU_TOLERATION["key"]]
        else:
            assert spec.node_selector == CPU_NODES and not spec.tolerations, op
