"""The oracles' action streams, hashed: a restructuring of the pipeline must leave them bit-identical.

    .venv/bin/python -m bench.oracle_streams --seeds 0-2                     # print one hash per family
    .venv/bin/python -m bench.oracle_streams --seeds 0-2 --write bench/oracle_streams.json
    .venv/bin/python -m bench.oracle_streams --check bench/oracle_streams.json  # exit 1 on any difference

Each family's privileged oracle (``world/scripted.py``) runs one episode per seed in its world; every action
it sends is hashed (float64 bytes, in order) together with the episode's length and success, so a change in
any world, oracle, sim wrapper or controller shows as a different hash for the family it touches.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from bench.bin_family import parse_seeds


def stream_hash(family: str, seeds: list[int]) -> dict:
    """One family's oracle over ``seeds``: the hash of every action in order, steps and successes."""
    from physworld_core.evaluation.oracle import run_oracle
    from physworld_core.evaluation.worlds import BenchmarkTask

    digest = hashlib.sha256()
    steps, successes = [], []

    def observe(env, action) -> None:
        digest.update(np.asarray(action, dtype=np.float64).tobytes())

    for seed in seeds:
        result = run_oracle(BenchmarkTask(family, seed), observer=observe)
        digest.update(f"|{seed}:{result.steps}:{result.success}|".encode())
        steps.append(result.steps)
        successes.append(result.success)
    return {"seeds": seeds, "sha256": digest.hexdigest(), "steps": steps, "success": successes}


def main(argv: list[str] | None = None) -> int:
    from physworld_core.world import family_names

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--families", default="all", help="comma-separated family names, or 'all'")
    parser.add_argument("--write", default=None, help="write the hashes to this JSON file")
    parser.add_argument("--check", default=None, help="compare with the hashes in this JSON file")
    args = parser.parse_args(argv)
    expected = json.loads(Path(args.check).read_text()) if args.check else {}
    if args.check:
        names = sorted(expected) if args.families == "all" else args.families.split(",")
    else:
        names = family_names() if args.families == "all" else args.families.split(",")
    hashes, differ = {}, []
    for name in names:
        seeds = expected[name]["seeds"] if name in expected else parse_seeds(args.seeds)
        hashes[name] = stream_hash(name, seeds)
        same = name in expected and expected[name]["sha256"] == hashes[name]["sha256"]
        if args.check and not same:
            differ.append(name)
        mark = "" if not args.check else (" same" if same else " DIFFERENT")
        print(f"{name}: {hashes[name]['sha256'][:16]} steps {hashes[name]['steps']}{mark}", flush=True)
    if args.write:
        Path(args.write).write_text(json.dumps(hashes, indent=1) + "\n")
    if differ:
        print(f"oracle action streams differ for: {', '.join(differ)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
