"""Recorded rollouts: what a policy saw and did in a simulated world, frame by frame, for dataset export.

Each recorded trial becomes one ``rollouts`` row. Per-step arrays (robot state, object pose, action) live in
an ``.npz`` blob and the rendered camera stream in an mp4 blob; the row holds their addresses, the outcome and
the lineage, so the LeRobot and video-model exporters can select episodes without opening any blob. Frame t
pairs the observation *before* action t with that action (LeRobot's convention).

What is recorded is chosen by :class:`RecordConfig`: how many trials per method, the picture size, the frame
rate (the control rate or an integer fraction of it) and a minimum episode length. Policies that predict
action chunks train only on episodes at least one chunk long (ACT's default chunk is 100 steps), so a trial that
ends sooner goes on being recorded, the policy still acting, until the episode has ``min_frames`` frames; the
trial's outcome is still the one scored when it ended.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np

from physworld_core.scene import CameraSpec
from physworld_core.sim.rates import CONTROL_HZ

#: ``observation.state``: Panda joint positions, then the TCP pose (position, wxyz quaternion).
STATE_NAMES = (
    *(f"joint{i}" for i in range(1, 8)),
    "finger_left",
    "finger_right",
    "tcp_x",
    "tcp_y",
    "tcp_z",
    "tcp_qw",
    "tcp_qx",
    "tcp_qy",
    "tcp_qz",
)
#: ``observation.environment_state``: the manipulated object's pose (bounding-box centre, wxyz quaternion).
ENV_STATE_NAMES = ("object_x", "object_y", "object_z", "object_qw", "object_qx", "object_qy", "object_qz")
DELTA_PREFIX = "delta_"
"""Action dimensions named so are moves: recorded below the control rate, a frame's action is their sum over
the control steps it spans (the whole move to the next frame); any other dimension (the gripper) keeps the last
command."""


DEFAULT_MIN_FRAMES = 100
"""ACT's default action chunk (100 steps), the longest of the common ones (Diffusion Policy 16, pi0 50): an
episode shorter than the chunk gives a policy no full target to learn from."""


@dataclass(frozen=True)
class RecordConfig:
    """Args:
    trials: how many trials per method are recorded (the first ones); rendering costs ~70 ms a frame on
        CPU, so recording every trial would dominate the evaluation's time.
    width, height: rendered size; the camera is the task's scene camera at this resolution.
    min_frames: a recorded trial that ends in fewer frames goes on (the policy still acting, after the scored
        outcome) until the episode has this many; 0 records each trial exactly as long as it ran.
    fps: recorded frames per second; None records every control step (the simulator's control rate, 20 Hz).
        A lower rate must divide the control rate: only the recorded steps are rendered.
    """

    trials: int = 2
    width: int = 128
    height: int = 128
    min_frames: int = DEFAULT_MIN_FRAMES
    fps: float | None = None

    def __post_init__(self) -> None:
        if self.trials < 0:
            raise ValueError(f"record trials must be >= 0, got {self.trials}")
        if not (16 <= self.width <= 1024 and 16 <= self.height <= 1024):
            raise ValueError(f"record size must be 16..1024 pixels a side, got {self.width}x{self.height}")
        if self.width % 2 or self.height % 2:
            raise ValueError(f"record size must be even (H.264 yuv420p), got {self.width}x{self.height}")
        if not 0 <= self.min_frames <= 10_000:
            raise ValueError(f"record min_frames must be 0..10000, got {self.min_frames}")
        if self.fps is not None:
            self.frame_step()  # raises on a rate that does not divide the control rate

    def frame_step(self) -> int:
        """Control steps per recorded frame."""
        if self.fps is None:
            return 1
        step = CONTROL_HZ / self.fps if self.fps > 0 else 0.0
        if step < 1 or abs(step - round(step)) > 1e-6:
            raise ValueError(
                f"record fps must divide the control rate {CONTROL_HZ} Hz (e.g. {CONTROL_HZ}, "
                f"{CONTROL_HZ / 2:g}, {CONTROL_HZ / 4:g}), got {self.fps}"
            )
        return round(step)

    def recorded_fps(self) -> float:
        return float(CONTROL_HZ) / self.frame_step()


@dataclass
class RolloutRecorder:
    """An ``observer`` for :func:`physworld_core.policy.task_env.run_episode` that keeps every
    ``frame_step``-th step: the observation and picture before it, and the action over the steps to the next
    recorded one (moves summed, see :data:`DELTA_PREFIX`). Only the recorded steps are rendered.

    Args:
        render: render the camera (False: arrays only).
        frame_step: control steps per recorded frame.
        fps: the recorded frame rate, written to the ``rollouts`` row (None: the caller says it).
        action_names: names of the action's dimensions; needed when ``frame_step`` > 1 (which to sum).
    """

    render: bool = True
    frame_step: int = 1
    fps: float | None = None
    action_names: tuple[str, ...] | None = None
    states: list[np.ndarray] = field(default_factory=list)
    env_states: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    steps: int = 0
    trial_frames: int | None = None
    """Frames recorded when the scored trial ended (the rest, if any, were recorded to reach ``min_frames``)."""

    def __post_init__(self) -> None:
        if self.frame_step < 1:
            raise ValueError(f"frame_step must be >= 1, got {self.frame_step}")
        if self.frame_step > 1 and self.action_names is None:
            raise ValueError("recording below the control rate needs action_names (which dimensions to sum)")

    def __call__(self, env, action: np.ndarray) -> None:
        # Function-level: the task env module brings gymnasium and the policy layer, which the exporters and the
        # world model importing this module for its array helpers and names do not need.
        from physworld_core.policy.task_env import task_world

        action = np.asarray(action, dtype=np.float32).reshape(-1)
        if self.steps % self.frame_step:  # between recorded frames: fold the action into the last one
            moves = np.array([n.startswith(DELTA_PREFIX) for n in self.action_names])
            if len(moves) != len(action):
                raise ValueError(f"{len(action)}-dim action, but {len(moves)} action names were given")
            self.actions[-1] = np.where(moves, self.actions[-1] + action, action).astype(np.float32)
            self.steps += 1
            return
        world = task_world(env)
        qpos = world.agent.robot.get_qpos()[0].cpu().numpy()
        tcp = world.agent.tcp.pose.raw_pose[0].cpu().numpy()
        self.states.append(np.concatenate([qpos, tcp]).astype(np.float32))
        self.env_states.append(world.target_pose_world().astype(np.float32))
        self.actions.append(action)
        if self.render:
            self.frames.append(env.render()[0].cpu().numpy().astype(np.uint8))
        self.steps += 1

    def __len__(self) -> int:
        """Recorded frames so far."""
        return len(self.actions)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "state": np.stack(self.states),
            "env_state": np.stack(self.env_states),
            "action": np.stack(self.actions),
        }


_KEPT_RENDERERS: dict[str, object] = {}


def keep_renderer(env) -> None:
    """Keep a renderer on ``env``'s render device alive for the rest of the process.

    SAPIEN tears its renderer down with the last scene that renders, and the next world's first frame sets it
    up again: 5-11 s on a CPU (measured on bin worlds), against ~50 ms for every later frame. A world built per
    method, per task or per episode paid it every time; one idle render system held here keeps it up. A world
    that does not render is left alone."""
    scene = env.unwrapped.scene.sub_scenes[0]
    try:
        device = scene.render_system.device
    except RuntimeError:  # SAPIEN's answer for a scene with no render system
        return
    if str(device) not in _KEPT_RENDERERS:
        # Function-level: the exporters reading this module's array helpers need no simulator (SAPIEN's native
        # renderer libraries load with it).
        import sapien

        _KEPT_RENDERERS[str(device)] = sapien.render.RenderSystem(device)


def save_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def load_arrays(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data)) as npz:
        return {k: npz[k] for k in npz.files}


def rollout_row(
    store,
    recorder: RolloutRecorder,
    *,
    task_id: str,
    method: str,
    trial: int,
    success: bool,
    failure: str | None,
    fps: float | None = None,
    camera: CameraSpec | None,
    prompt: str,
    family: str | None,
    lineage: dict,
) -> dict:
    """Store the recorder's arrays (and frames) as blobs and return the ``rollouts`` row. ``fps`` defaults to
    the recorder's rate; a different one is an error (the video would play at the wrong speed)."""
    # Function-level: PyAV and the video package (its procedural renderer) only where frames are encoded; the
    # world model's data module imports this one for DELTA_PREFIX and keeps PyAV lazy too.
    from physworld_core.video.codec import encode_mp4

    if fps is None:
        fps = recorder.fps
    if fps is None or (recorder.fps is not None and abs(fps - recorder.fps) > 1e-9):
        raise ValueError(f"rollout {task_id}/{method}/{trial}: fps {fps} but recorded at {recorder.fps}")
    if recorder.trial_frames is not None:
        lineage = {**lineage, "trial_frames": recorder.trial_frames}
    data = store.blobs.put_bytes(save_arrays(recorder.arrays()), suffix=".npz")
    video = None
    if recorder.frames:
        video = store.blobs.put_bytes(encode_mp4(np.stack(recorder.frames), fps), suffix=".mp4")
    return {
        "task_id": task_id,
        "method": method,
        "trial": int(trial),
        "family": family,
        "prompt": prompt,
        "success": bool(success),
        "failure": failure,
        "frames": len(recorder.actions),
        "fps": float(fps),
        "data_uri": data.uri,
        "data_sha256": data.sha256,
        "video_uri": video.uri if video else None,
        "video_sha256": video.sha256 if video else None,
        "camera_json": camera.to_json() if camera else None,
        "lineage_json": json.dumps(lineage, sort_keys=True),
        # The lineage readers select on, as columns of their own.
        "video_sample": lineage.get("video_sample"),
        "policy_checkpoint_sha256": lineage.get("policy_checkpoint_sha256"),
    }
