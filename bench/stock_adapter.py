"""A stock ManiSkill env through the whole pipeline, scored by the env's own ``evaluate()``.

    .venv/bin/python -m bench.stock_adapter --env PushCube-v1 --seeds 0-2 \
        --prompt "push the cube onto the red and white target" --env-steps 4096 --trials 10

Each seed: capture the env's sensor camera at ``--size`` → procedural video (2 samples) → reconstruction →
twin → planner + residual PPO in the twin → ``--trials`` trials per method in the stock env itself (the stages
the Dagster assets call, on a temporary lake; see :mod:`bench.methods_table`). Nothing here or in the adapter
knows the env id: another Panda tabletop env with a visible goal runs by changing ``--env`` and ``--prompt``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.bin_family import parse_seeds
from bench.methods_table import markdown_table, run_task


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", default="PushCube-v1")
    parser.add_argument("--prompt", default="push the cube onto the red and white target")
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--env-steps", type=int, default=4096)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument(
        "--oracle", action="store_true", help="also train residual PPO in the stock env itself"
    )
    args = parser.parse_args()
    from physworld_core.store import Store

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-stock-") as tmp:
        store = Store.at(str(Path(tmp) / "lake"))
        for seed in parse_seeds(args.seeds):
            source = f"maniskill:{args.env}:{seed}:{args.size}x{args.size}"
            r = run_task(store, source, args.prompt, args.env_steps, args.trials, oracle=args.oracle)
            results.append(r)
            print(r, flush=True)
    print(f"\n{args.env}, prompt {args.prompt!r}")
    print(markdown_table(results, args.trials))


if __name__ == "__main__":
    main()
