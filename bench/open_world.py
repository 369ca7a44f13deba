"""Stock ManiSkill envs no code here was written for, asked for the way people say it (#24).

    .venv/bin/python -m bench.open_world --seeds 1000-1009 --env-steps 8192 --trials 10
    .venv/bin/python -m bench.open_world --envs PushCube-v1 --seeds 1000 --env-steps 2048 --trials 5

Per env:
- **prompts read / tried**: every phrasing below through the reader (no simulation);
- **tasks built / tried**: one task per seed, through every stage the Dagster assets call (scene → video →
  reconstruction → twin → policy → evaluation, :func:`bench.methods_table.run_task`), the env's phrasings
  taking turns over the seeds;
- **ground-truth success** by the env's own ``evaluate()`` for ``physworld``, ``planner_only`` and
  ``visual_imitation`` (a task the pipeline refuses counts 0 for every method), failure classes, and median
  seconds per stage.

Seeds 1000+ were never used in development. The phrasings were written once, the way a person would ask for
each env's task, before any was run; they name env ids because this is the benchmark, never the core.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from bench.bin_family import parse_seeds

PHRASINGS: dict[str, tuple[str, ...]] = {
    "PushCube-v1": (
        "push the cube onto the red and white target",
        "slide the block over to the target",
        "could you push the cube to the goal",
    ),
    "PullCube-v1": (
        "pull the cube onto the target",
        "drag the cube back to the red target",
        "pull the block towards you onto the goal",
    ),
    "PullCubeTool-v1": (
        "use the hook to pull the cube towards you",
        "pull the cube closer with the L-shaped tool",
        "grab the stick and drag the red cube closer to the robot",
    ),
    "StackPyramid-v1": (
        "stack the red cube on the blue cube",
        "put the red block on top of the blue one",
        "could you place the red cube onto the blue cube",
    ),
    "PlugCharger-v1": (
        "plug the charger into the socket",
        "insert the charger into the receptacle",
        "pick up the charger and plug it into the wall socket",
    ),
}
"""Each development env's task, said three ways (#24: at least three phrasings per env)."""

METHODS = ("physworld", "planner_only", "visual_imitation")


def read_prompts(phrasings: tuple[str, ...]) -> list[tuple[str, str]]:
    """(prompt, what the reader made of it: the skill and nouns, or the refusal's first words)."""
    from physworld_core.errors import PhysworldError
    from physworld_core.perception.language import parse_instruction

    out = []
    for prompt in phrasings:
        try:
            i = parse_instruction(prompt)
            out.append((prompt, f"{i.skill}: {i.object_noun} {i.relation} {i.goal_noun}"))
        except PhysworldError as error:
            out.append((prompt, f"refused: {str(error)[:120]}"))
    return out


def env_row(env_id: str, reads: list[tuple[str, str]], results: list[dict]) -> str:
    read = sum(not r.startswith("refused") for _, r in reads)
    built = [r for r in results if "error" not in r]
    success = {
        m: np.mean([r.get("success", {}).get(m, 0.0) for r in results]) if results else 0.0 for m in METHODS
    }
    failures: Counter = Counter()
    for r in built:
        failures.update(r["failures"].get("physworld", {}))
    failures.update(r["error"].split(":")[0] for r in results if "error" in r)
    stages = Counter()
    for r in built:
        stages.update(r["seconds"])
    seconds = ", ".join(f"{s} {v / len(built):.0f}" for s, v in stages.items()) if built else "–"
    return (
        f"| {env_id} | {read}/{len(reads)} | {len(built)}/{len(results)} | "
        + " | ".join(f"{success[m]:.0%}" for m in METHODS)
        + f" | {', '.join(f'{k} {v}' for k, v in failures.most_common()) or 'none'} | {seconds} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--envs", default=",".join(PHRASINGS))
    parser.add_argument("--seeds", default="1000-1009")
    parser.add_argument("--size", default="256x256", help="capture resolution of the env's sensor camera")
    parser.add_argument("--env-steps", type=int, default=8192)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--prompts-only", action="store_true", help="read the phrasings; build no task")
    parser.add_argument("--out", default="bench/out/open_world.md")
    args = parser.parse_args()
    from bench.methods_table import run_task
    from physworld_core.store import Store

    rows, details = [], []
    with tempfile.TemporaryDirectory(prefix="bench-open-world-") as tmp:
        store = Store.at(str(Path(tmp) / "lake"))
        for env_id in args.envs.split(","):
            reads = read_prompts(PHRASINGS[env_id])
            details += [f"- {env_id}: {prompt!r} → {read}" for prompt, read in reads]
            results = []
            if not args.prompts_only:
                for k, seed in enumerate(parse_seeds(args.seeds)):
                    prompt = PHRASINGS[env_id][k % len(PHRASINGS[env_id])]
                    source = f"maniskill:{env_id}:{seed}:{args.size}"
                    r = run_task(store, source, prompt, args.env_steps, args.trials)
                    results.append(r)
                    print(json.dumps(r), flush=True)
            rows.append(env_row(env_id, reads, results))
    header = (
        "| env | prompts read | tasks built | physworld | planner_only | visual_imitation | failure classes "
        "(physworld, refusals) | mean s per stage |\n|---|---|---|---|---|---|---|---|"
    )
    report = (
        f"## Open world: seeds {args.seeds}, {args.env_steps} env steps, {args.trials} trials\n\n"
        + header
        + "\n"
        + "\n".join(rows)
        + "\n\n### What the reader made of each phrasing\n\n"
        + "\n".join(details)
        + "\n"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print("\n" + report + f"\nwritten to {out}")


if __name__ == "__main__":
    main()
