"""Fidelity of the reconstruction and the twin against the benchmark worlds' hidden truth (no Dagster).

    .venv/bin/python -m bench.fidelity --seeds 0-19 --families bin,stack
    .venv/bin/python -m bench.fidelity --seeds 0-9 --families bin --out bench/out/fidelity.jsonl

Per task it runs the core stages as ``bench.bin_family`` does (capture → procedural video → reconstruction →
twin spec), reads the world's truth, and scores with :mod:`physworld_core.evaluation.fidelity`. A task the
pipeline cannot run (a prompt it cannot read, a scene it cannot reconstruct) is counted by error class, not
fatal. Prints one markdown table per family: median and the worse-tail decile of each figure, its limit and
how many tasks pass.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench.bin_family import parse_seeds

TABLE_RGB = (0.6, 0.4, 0.3)  # display colour of the twin's table (as in bench.bin_family)

# (report key, row label, limit field of FidelityThresholds or None, direction): "low" = smaller is better.
ROWS = (
    ("target_chamfer_mm", "Chamfer target (mm)", "target_chamfer_mm", "low"),
    ("container_chamfer_mm", "Chamfer container / goal (mm)", "container_chamfer_mm", "low"),
    ("target_depth_error_mm", "depth error, target pixels (mm)", "depth_error_mm", "low"),
    ("support_iou", "support-plane IoU", "support_iou", "high"),
    ("plane_height_error_mm", "plane height error (mm, abs)", "plane_height_mm", "low"),
    ("plane_normal_error_deg", "plane normal error (deg)", "plane_normal_deg", "low"),
    ("mass_error_pct", "mass error (%, abs)", None, "low"),
    ("friction_error_pct", "friction error (%, abs)", None, "low"),
    ("tracking_mean_mm", "tracking mean (mm)", "tracking_mean_mm", "low"),
    ("tracking_final_mm", "tracking final (mm)", "tracking_final_mm", "low"),
    ("tracking_mean_deg", "tracking mean (deg)", "tracking_mean_deg", "low"),
    ("reconstruction_seconds", "reconstruction (s / task)", None, "low"),
)
CHECK_OF = {
    "plane_height_error_mm": "plane_height_error_mm",
    "mass_error_pct": "mass_in_range",
    "friction_error_pct": "friction_in_range",
}


def run_task(family: str, seed: int) -> dict:
    """One task's fidelity report and checks, or the error class that stopped the pipeline."""
    from physworld_core.errors import PhysworldError
    from physworld_core.evaluation.fidelity import check_fidelity, score_fidelity, world_truth
    from physworld_core.evaluation.worlds import BenchmarkTask, capture_scene
    from physworld_core.perception.perceive import perceive
    from physworld_core.reconstruction.reconstruct import reconstruct
    from physworld_core.twin.build import build_twin
    from physworld_core.video import backends

    task = BenchmarkTask(family, seed)
    out: dict = {"task_id": task.task_id, "family": family, "seed": seed}
    try:
        scene = capture_scene(task)
        out["prompt"] = scene.prompt
        video = backends.load("procedural").generate(scene)
        start = time.time()
        recon = reconstruct(scene, video.frames, video.fps)
        seconds = time.time() - start
        spec = build_twin(recon, scene.camera.to_json(), TABLE_RGB).spec
        observed = perceive(scene).target.points_world
    except PhysworldError as exc:
        out["error"], out["message"] = type(exc).__name__, str(exc)
        return out
    report = score_fidelity(
        world_truth(task),
        recon,
        spec,
        observed_target_points=observed,
        rendered_transforms_world=video.plan.get("object_transforms_world"),
        reconstruction_seconds=seconds,
    )
    out["report"] = report.to_dict()
    out["checks"] = {c.metric: c.passed for c in check_fidelity(report)}
    return out


def _fmt(value: float) -> str:
    """3 significant figures, e.g. 0.997, 2.74, 21.8, 176."""
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def family_table(family: str, rows: list[dict]) -> str:
    """Markdown: one line per figure (median, worse-tail decile, limit, tasks passing) plus pipeline errors."""
    from physworld_core.evaluation.fidelity import FidelityThresholds

    limits = FidelityThresholds()
    scored = [r for r in rows if "report" in r]
    lines = [
        f"### {family}: {len(scored)} of {len(rows)} tasks scored",
        "",
        "| figure | median | worse 10% | limit | pass |",
        "|---|---|---|---|---|",
    ]
    for key, label, limit_name, direction in ROWS:
        values = [r["report"][key] for r in scored if r["report"][key] is not None]
        if not values:
            lines.append(f"| {label} | n/a | n/a | | |")
            continue
        values = (
            np.abs(values) if direction == "low" and key.endswith(("_pct", "height_error_mm")) else values
        )
        tail = np.percentile(values, 90 if direction == "low" else 10)
        if limit_name is not None:
            limit = ("≤ " if direction == "low" else "≥ ") + f"{getattr(limits, limit_name):g}"
        elif key in CHECK_OF:
            limit = "truth in range"
        else:
            limit = ""
        check = CHECK_OF.get(key, key)
        verdicts = [r["checks"][check] for r in scored if check in r["checks"]]
        passed = f"{sum(verdicts)}/{len(verdicts)}" if verdicts else ""
        lines.append(f"| {label} | {_fmt(np.median(values))} | {_fmt(tail)} | {limit} | {passed} |")
    errors = Counter((r["error"], _reason(r["message"])) for r in rows if "error" in r)
    for (error, reason), count in errors.most_common():
        lines.append(f"| pipeline error: {error} | {count} of {len(rows)} tasks | {reason} | | |")
    return "\n".join(lines)


def _reason(message: str) -> str:
    """A pipeline error's message as a short cause shared by tasks: quoted names become '…', and the first
    clause that says more than which prompt it was is kept ("prompt not readable" for the parser's error)."""
    if message.startswith("cannot read the prompt"):
        return "prompt not readable"
    generic = re.sub(r"'[^']*'", "'…'", message)
    clauses = [c.strip() for c in generic.split(":") if c.strip() and c.strip() != "prompt '…'"]
    return (clauses[0] if clauses else generic).split(";")[0][:90].replace("|", "/")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="0-19")
    parser.add_argument("--families", default="bin,stack")
    parser.add_argument("--out", type=Path, default=None, help="also write one JSON line per task here")
    args = parser.parse_args()
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    results: dict[str, list[dict]] = {family: [] for family in families}
    for family in families:
        for seed in parse_seeds(args.seeds):
            result = run_task(family, seed)
            results[family].append(result)
            if "error" in result:
                print(f"{result['task_id']}: {result['error']}", flush=True)
            else:
                failed = [name for name, ok in result["checks"].items() if not ok]
                print(f"{result['task_id']}: failed checks {failed or 'none'}", flush=True)
            if args.out is not None:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                with args.out.open("a") as f:
                    f.write(json.dumps(result) + "\n")
    print()
    for family in families:
        print(family_table(family, results[family]) + "\n")


if __name__ == "__main__":
    main()
