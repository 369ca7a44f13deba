"""Recorded rollouts: what a policy saw and did in a simulated world, frame by frame, for dataset export.

Each recorded trial becomes one ``rollouts`` row. Per-step arrays (robot state, object pose, action) live in
an ``.npz`` blob and the rendered camera stream in an mp4 blob; the row holds their addresses, the outcome and
the lineage, so the LeRobot and video-model exporters can select episodes without opening any blob. Frame t
pairs the observation *before* action t with that action (LeRobot's convention).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np

from physworld_core.scene import CameraSpec

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
#: ``action``: the hand's normalised task action ``[dx, dy, dz, dyaw, gripper]`` (±1 ↔ ±0.1 m, ±0.1 rad; gripper
#: +1 open, -1 closed), see ``physworld_core.policy.hand``.
ACTION_NAMES = ("delta_x", "delta_y", "delta_z", "gripper")


@dataclass(frozen=True)
class RecordConfig:
    """Args:
    trials: how many trials per method are recorded (the first ones); rendering costs ~70 ms a frame on
        CPU, so recording every trial would dominate the evaluation's time.
    width, height: rendered size; the camera is the task's scene camera at this resolution.
    """

    trials: int = 2
    width: int = 128
    height: int = 128

    def __post_init__(self) -> None:
        if self.trials < 0:
            raise ValueError(f"record trials must be >= 0, got {self.trials}")
        if not (16 <= self.width <= 1024 and 16 <= self.height <= 1024):
            raise ValueError(f"record size must be 16..1024 pixels a side, got {self.width}x{self.height}")
        if self.width % 2 or self.height % 2:
            raise ValueError(f"record size must be even (H.264 yuv420p), got {self.width}x{self.height}")


@dataclass
class RolloutRecorder:
    """An ``observer`` for :func:`physworld_core.policy.task_env.run_episode` that keeps every step."""

    render: bool = True
    states: list[np.ndarray] = field(default_factory=list)
    env_states: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)

    def __call__(self, env, action: np.ndarray) -> None:
        from physworld_core.policy.task_env import task_world

        world = task_world(env)
        qpos = world.agent.robot.get_qpos()[0].cpu().numpy()
        tcp = world.agent.tcp.pose.raw_pose[0].cpu().numpy()
        self.states.append(np.concatenate([qpos, tcp]).astype(np.float32))
        self.env_states.append(world.target_pose_world().astype(np.float32))
        self.actions.append(np.asarray(action, dtype=np.float32).reshape(-1))
        if self.render:
            self.frames.append(env.render()[0].cpu().numpy().astype(np.uint8))

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "state": np.stack(self.states),
            "env_state": np.stack(self.env_states),
            "action": np.stack(self.actions),
        }


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
    fps: float,
    camera: CameraSpec | None,
    prompt: str,
    family: str | None,
    lineage: dict,
) -> dict:
    """Store the recorder's arrays (and frames) as blobs and return the ``rollouts`` row."""
    from physworld_core.video.codec import encode_mp4

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
    }
