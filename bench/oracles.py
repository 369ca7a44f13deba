"""Every benchmark family is solvable: privileged-oracle success over seeds, and the cost of a world.

    .venv/bin/python -m bench.oracles --seeds 0-19            # all families
    .venv/bin/python -m bench.oracles --families bin --seeds 0-19

Prints, per family: oracle success (≥ 90 % is the bar), mean episode steps, and the time to build the world
and render its first RGB-D frame (the pipeline's ``capture_scene``).
"""

from __future__ import annotations

import argparse
import time

from bench.bin_family import parse_seeds


def main() -> None:
    from physworld_core.evaluation.oracle import run_oracle
    from physworld_core.evaluation.worlds import BenchmarkTask, capture_scene
    from physworld_core.world import family_names

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-19")
    parser.add_argument("--families", default="all", help="comma-separated family names, or 'all'")
    args = parser.parse_args()
    names = family_names() if args.families == "all" else args.families.split(",")
    seeds = parse_seeds(args.seeds)

    rows = []
    for name in names:
        results, failed = [], []
        for seed in seeds:
            result = run_oracle(BenchmarkTask(name, seed))
            results.append(result)
            if not result.success:
                failed.append(seed)
        start = time.perf_counter()
        capture_scene(BenchmarkTask(name, seeds[0]))
        capture_s = time.perf_counter() - start
        rate = sum(r.success for r in results) / len(results)
        steps = sum(r.steps for r in results) / len(results)
        rows.append((name, rate, steps, capture_s, failed))
        print(f"{name}: {rate:.0%} ({len(results)} seeds), failed seeds {failed or '-'}", flush=True)

    print(f"\n## Oracle success, seeds {args.seeds}\n")
    print("| family | oracle success | mean steps | build + first RGB-D frame (s) | failed seeds |")
    print("|---|---|---|---|---|")
    for name, rate, steps, capture_s, failed in rows:
        print(
            f"| {name} | {rate:.0%} | {steps:.0f} | {capture_s:.2f} | {', '.join(map(str, failed)) or '-'} |"
        )
    overall = sum(r[1] for r in rows) / len(rows)
    print(
        f"\nmean over {len(rows)} families: {overall:.0%}; families under 90 %: "
        f"{', '.join(r[0] for r in rows if r[1] < 0.9) or 'none'}"
    )


if __name__ == "__main__":
    main()
