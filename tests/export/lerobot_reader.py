"""Read a LeRobot dataset with LeRobot's own ``LeRobotDataset`` and print what it served, as JSON.

    python tests/export/lerobot_reader.py <root> <chunk size> <camera key>

Run in its own process by ``test_lerobot.py``, so that the placeholder below never reaches another test.
"""

import importlib.machinery
import json
import sys
import types

# LeRobot's dataset modules import torchvision at module level, for image transforms and its pyav decoding path;
# torchvision cannot be installed here (it pulls a CUDA torch). A placeholder module satisfies the import, and
# LeRobot decodes with its torchcodec path, which does not touch torchvision.
for name in ("torchvision", "torchvision.transforms"):
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    sys.modules[name] = module
sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]

from lerobot.datasets.lerobot_dataset import LeRobotDataset

root, chunk, camera_key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
plain = LeRobotDataset("physworld/export", root=root, video_backend="torchcodec")
chunked = LeRobotDataset(
    "physworld/export",
    root=root,
    video_backend="torchcodec",
    delta_timestamps={"action": [t / plain.fps for t in range(chunk)]},
)
starts = [int(i) for i in plain.meta.episodes["dataset_from_index"]]
out = {"episodes": plain.num_episodes, "frames": plain.num_frames, "fps": plain.fps, "items": []}
for index in starts:
    item, window = plain[index], chunked[index]
    out["items"].append(
        {
            "episode_index": int(item["episode_index"]),
            "action": item["action"].tolist(),
            "state": item["observation.state"].tolist(),
            "image": item[camera_key].numpy().tolist(),
            "task": item["task"],
            "chunk_shape": list(window["action"].shape),
            "chunk_padded": int(window["action_is_pad"].sum()),
            "chunk_last_action": window["action"][-1].tolist(),
        }
    )
print(json.dumps(out))
