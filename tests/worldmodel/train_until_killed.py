"""Train the tiny world model of ``test_train.py`` with checkpoints in ``argv[1]``, slowly (each update
waits ``argv[2]`` seconds), so the test can kill it with SIGKILL part-way through.

    python tests/worldmodel/train_until_killed.py <checkpoint dir> <seconds per update>
"""

import sys
import time

from physworld_core.worldmodel.train import train_world_model
from tests.worldmodel.test_train import TINY, resume_config, tiny_data

seconds = float(sys.argv[2])
train_world_model(
    tiny_data(), TINY, resume_config(), sys.argv[1], progress=False, log_fn=lambda entry: time.sleep(seconds)
)
