"""The stock-ManiSkill adapter: a stock Panda env as a world, end to end, scored by the env's own evaluate()."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pytest

from physworld_core.errors import SceneError
from physworld_core.evaluation.stock import StockTask, StockWorld
from physworld_core.evaluation.worlds import parse_world

PUSH_CUBE = "maniskill:PushCube-v1:3:256x256"
PROMPT = "push the cube onto the red and white target"


def test_sources_parse_and_bad_ones_say_what_is_expected():
    task = StockTask.parse("maniskill:PushCube-v1:3")
    assert (task.env_id, task.seed, task.width, task.height) == ("PushCube-v1", 3, 256, 256)
    assert StockTask.parse(task.source) == task
    assert task.task_id == "pushcube-v1-0003"
    assert isinstance(parse_world(PUSH_CUBE), StockTask)
    with pytest.raises(ValueError, match="expected maniskill:<env id>:<seed>"):
        StockTask.parse("maniskill:PushCube-v1")
    with pytest.raises(SceneError, match="not a registered ManiSkill env id"):
        StockTask.parse("maniskill:NoSuchEnv-v9:0")
    with pytest.raises(ValueError, match="capture size"):
        StockTask("PushCube-v1", 0, width=8, height=8)


def test_a_stock_task_needs_a_prompt(tmp_path):
    from physworld_core.ingest import register_task
    from physworld_core.store import Store

    store = Store.at(str(tmp_path / "lake"))
    with pytest.raises(SceneError, match="--prompt"):
        register_task(store, "pc-3", PUSH_CUBE)
    assert not (tmp_path / "lake" / "tasks").exists()  # nothing written


@pytest.fixture(scope="module")
def push_cube_scene():
    return StockTask.parse(PUSH_CUBE).capture(prompt=PROMPT)


def test_capture_is_the_sensor_camera_with_the_arm_out_of_view(push_cube_scene):
    from physworld_core.perception.perceive import perceive

    scene = push_cube_scene
    assert scene.rgb.shape == (256, 256, 3) and scene.depth_m.shape == (256, 256)
    env = StockTask.parse(PUSH_CUBE).make_env()
    try:
        env.reset(seed=3)
        u = env.unwrapped
        truth = {name: a.pose.p[0].numpy() for name, a in u.scene.actors.items()}
    finally:
        env.close()
    p = perceive(scene)
    assert [o.shape for o in p.objects].count("box") == 1  # the cube; the tucked hand is not an object
    near = {n: np.linalg.norm(np.asarray(p.target.centre_world[:2]) - xyz[:2]) for n, xyz in truth.items()}
    assert min(near.values()) < 0.01
    assert set(p.goal.colours) == {"red", "white"}
    goal_error = min(np.linalg.norm(np.asarray(p.goal.centre_world[:2]) - xyz[:2]) for xyz in truth.values())
    assert goal_error < 0.01


def test_the_target_must_be_a_movable_body_near_the_reconstruction():
    task = StockTask.parse(PUSH_CUBE)
    with pytest.raises(SceneError, match="no movable object within"):
        StockWorld(task.make_env(), task.seed, (0.3, 0.3, 0.02))


def test_the_physworld_job_runs_on_a_stock_env_and_scores_with_its_evaluate(tmp_path, monkeypatch):
    from pipelines.definitions import build_definitions
    from pipelines.tasks import add_task

    monkeypatch.setenv("PHYSWORLD_LAKE", str(tmp_path / "lake"))
    defs = build_definitions("local")
    store, instance = defs.resources["store"].store(), dg.DagsterInstance.ephemeral()
    add_task(instance, store, "pushcube-3", PUSH_CUBE, PROMPT)
    config = {
        "ops": {
            "policies": {
                "config": {
                    "total_env_steps": 256,
                    "num_envs": 1,
                    "async_envs": False,
                    "eval_episodes": 2,
                    "oracle_twin": True,
                }
            },
            "evaluations": {
                "config": {"trials": 2, "record_trials": 1, "record_width": 64, "record_height": 64}
            },
        }
    }
    result = defs.resolve_job_def("physworld").execute_in_process(
        partition_key="pushcube-3", instance=instance, run_config=config, raise_on_error=False
    )
    assert result.success
    twin = store.one_row("twins", "pushcube-3")
    assert '"skill": "push"' in twin["spec_json"]
    evaluations = store.lake.read_partition("evaluations", "pushcube-3")
    assert set(evaluations["method"]) == {"planner_only", "physworld", "visual_imitation", "oracle_twin"}
    planner = evaluations.filter(evaluations["method"] == "planner_only")
    assert planner["success"].sum() >= 1  # the env's own evaluate(): the cube is on its target
    assert store.lake.read_partition("rollouts", "pushcube-3").height == 4
