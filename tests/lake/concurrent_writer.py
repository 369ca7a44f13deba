"""Worker for the concurrency tests: rewrite one task's partition many times, report committed versions.

Run as ``python concurrent_writer.py '<json config>'``. It waits for a "go" file so that every worker has
imported its libraries before the first write and the writes really overlap. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(config: dict) -> None:
    from physworld_core.lake import Lake

    lake = Lake(config["root"], storage_options=config["storage_options"], max_attempts=20)
    barrier = Path(config["barrier_dir"])
    (barrier / f"ready-{config['task_id']}").touch()
    deadline = time.monotonic() + 60
    while not (barrier / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go signal within 60 s")
        time.sleep(0.01)

    versions = []
    for write in range(config["writes"]):
        rows = [
            {
                "task_id": config["task_id"],
                "method": "residual_ppo",
                "trial": trial,
                "success": True,
                "failure": None,
                "env_seed": trial,
                "steps": write,
                "final_distance": 0.0,
                "seconds": 0.1,
            }
            for trial in range(config["trials"])
        ]
        versions.append(lake.write_partition("evaluations", rows, config["task_id"]).version)
    print(json.dumps({"task_id": config["task_id"], "versions": versions}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
