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


# --- robots: the plain Panda where the env takes it, a Panda variant's arm where it insists on one ---------------
PLUG_CHARGER = "maniskill:PlugCharger-v1:5:64x64"  # its author lists only the Panda with a wrist camera


@pytest.fixture(scope="module")
def plug_charger_sensors():
    """PlugCharger's sensor frames at its seed, from an env kept open for the module: while one env renders, the
    next ones reuse its render device instead of starting another (seconds each on a CPU)."""
    task = StockTask.parse(PLUG_CHARGER)
    env = task.make_env(obs_mode="rgb+depth")
    obs, _ = env.reset(seed=task.seed)
    yield env.unwrapped, obs
    env.close()


def test_an_env_that_takes_the_plain_panda_gets_it_even_if_its_default_is_a_variant(plug_charger_sensors):
    env = StockTask("StackCube-v1", 0, 64, 64).make_env(obs_mode="rgb+depth")
    try:
        obs, _ = env.reset(seed=0)
        assert env.unwrapped.agent.uid == "panda"  # its default is panda_wristcam
        assert list(obs["sensor_data"]) == ["base_camera"]
    finally:
        env.close()


def test_an_env_that_insists_on_a_panda_variant_is_captured_reset_driven_and_scored_by_its_evaluate(
    plug_charger_sensors,
):
    from physworld_core.evaluation.stock import RESET_JITTER_M
    from physworld_core.evaluation.worlds import sensor_scene
    from physworld_core.robot import PANDA

    task = StockTask.parse(PLUG_CHARGER)
    scene = task.capture(prompt="plug the charger into the receptacle")
    assert scene.rgb.shape == (64, 64, 3) and np.median(scene.depth_m) > 0.1
    sensors, obs = plug_charger_sensors
    assert sensors.agent.uid == "panda_wristcam" and "hand_camera" in obs["sensor_data"]
    base = sensor_scene(obs, "base_camera", "t", "x", task.source).camera.cam_to_world
    hand = sensor_scene(obs, "hand_camera", "t", "x", task.source).camera.cam_to_world
    assert np.allclose(scene.camera.cam_to_world, base, atol=1e-5)  # the scene camera, not the wrist one
    assert not np.allclose(scene.camera.cam_to_world, hand, atol=1e-2)

    env = task.make_env()
    u = env.unwrapped
    assert u.agent.uid == "panda_wristcam"
    assert u.control_mode == PANDA.control_mode and env.action_space.shape == (7,)
    env.reset(seed=task.seed)
    layout = {name: a.pose.raw_pose[0].numpy().copy() for name, a in u.scene.actors.items()}
    world = StockWorld(env, task.seed, layout["charger"][:3])
    try:
        assert world.target_name == "charger"
        for trial in (0, 1):
            world.reset(seed=trial)
            assert np.allclose(u.agent.robot.get_qpos()[0].numpy(), PANDA.ready_qpos, atol=1e-4)
            for name, actor in u.scene.actors.items():
                pose = actor.pose.raw_pose[0].numpy()
                if name == "charger":  # the seed's layout, moved by a few millimetres of jitter
                    assert np.linalg.norm(pose[:2] - layout[name][:2]) < 5 * RESET_JITTER_M
                else:
                    assert np.allclose(pose, layout[name], atol=1e-5)
        tcp_start = world.tcp_position()
        for _ in range(5):  # physworld's control mode drives the variant's arm: +x, gripper open
            _, _, _, _, info = world.step(np.array([1, 0, 0, 0, 0, 0, 1], dtype=np.float32))
        moved = world.tcp_position() - tcp_start
        assert moved[0] > 0.02 and abs(moved[1]) < 0.01
        assert "obj_to_goal_dist" in info and not bool(info["success"][0])  # the env's own evaluate()
        world.target_object.set_pose(u.goal_pose)  # plugged in: its evaluate() says so
        assert bool(u.evaluate()["success"][0])
    finally:
        world.close()


@pytest.mark.parametrize(
    ("env_id", "problem"),
    [
        ("PickCubeSO100-v1", "its robot 'so100' has joints shoulder_pan"),
        ("PushT-v1", "its robot 'panda_stick' lacks panda_finger_joint1, panda_finger_joint2"),
        ("TwoRobotPickCube-v1", "it has several robots"),
    ],
)
def test_a_robot_that_is_not_one_panda_arm_is_refused_in_one_line(env_id, problem):
    with pytest.raises(SceneError) as refused:
        StockTask(env_id, 0, 64, 64).make_env()
    message = str(refused.value)
    assert message.startswith(f"{env_id}: {problem}") and "\n" not in message
    assert "physworld drives one Panda arm" in message and "pd_ee_delta_pose" in message


def test_the_capture_camera_must_be_a_scene_camera_of_the_env(plug_charger_sensors):
    with pytest.raises(
        SceneError, match="'hand_camera' rides on the robot.*choose a scene camera: base_camera$"
    ):
        StockTask.parse(PLUG_CHARGER + ":hand_camera").capture(prompt="x")
    with pytest.raises(SceneError, match="no sensor camera 'side_camera'; it has base_camera, hand_camera$"):
        StockTask.parse(PLUG_CHARGER + ":side_camera").capture(prompt="x")


def test_missing_maniskill_assets_are_named_with_the_command_that_installs_them(monkeypatch):
    from mani_skill.utils import assets

    monkeypatch.setattr(assets, "is_data_source_downloaded", lambda data_source_id: False)
    with pytest.raises(SceneError, match=r"\(assembling_kits\); install them with `python -m mani_skill"):
        StockTask("AssemblingKits-v1", 0, 64, 64).make_env()
