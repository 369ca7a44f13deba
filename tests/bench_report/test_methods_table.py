"""The methods table's report: a refused task counts against every method, and a resumed run keeps only the
tasks that ran with the same settings."""

from __future__ import annotations

import argparse
import json

from bench.methods_table import load_done, markdown_table, run_settings, timing_table


def result(source: str, physworld: float, imitation: float, failures: dict | None = None) -> dict:
    return {
        "source": source,
        "seconds": {"scenes": 10.0, "policies": 120.0},
        "success": {"physworld": physworld, "visual_imitation": imitation},
        "failures": {"physworld": {}, "visual_imitation": failures or {}},
    }


def test_a_refused_task_is_a_pipeline_failure_of_every_method():
    rows = [
        result("benchmark:bin:60", 1.0, 0.6, {"tracking": 4}),
        {"source": "benchmark:bin:61", "seconds": {"scenes": 9.0}, "error": "ReconstructionError: …"},
        result("benchmark:push:60", 0.9, 1.0),
    ]
    table = markdown_table(rows, trials=10)
    lines = table.splitlines()
    assert lines[0] == "| family | tasks | physworld | visual_imitation |"
    assert "| bin | 2 | 50% (pipeline 10) | 30% (pipeline 10, tracking 4) |" in lines
    assert "| push | 1 | 90% (none) | 100% (none) |" in lines
    assert "| **mean** | 3 | **63%** | **53%** |" in lines
    timing = timing_table(rows)
    assert "| scenes | 3 | 10 | 10 |" in timing and "| policies | 2 | 120 | 120 |" in timing


def test_resume_keeps_only_tasks_run_with_the_same_settings(tmp_path):
    args = argparse.Namespace(prompt=None, env_steps=8192, trials=10, scratch=False, oracle=False)
    same, other = run_settings(args), run_settings(argparse.Namespace(**{**vars(args), "env_steps": 4096}))
    log = tmp_path / "methods_table.jsonl"
    log.write_text(
        json.dumps({"settings": same, "result": result("benchmark:bin:60", 1.0, 1.0)})
        + "\n"
        + json.dumps({"settings": other, "result": result("benchmark:bin:61", 1.0, 1.0)})
        + "\n\n"
    )
    assert list(load_done(log, same)) == ["benchmark:bin:60"]
    assert load_done(tmp_path / "missing.jsonl", same) == {}


def test_the_report_names_the_tasks_where_physworld_deployed_the_planner():
    rows = [
        {**result("benchmark:book:60", 1.0, 0.5), "physworld_deploys": "planner"},
        {**result("benchmark:book:61", 1.0, 0.5), "physworld_deploys": "residual"},
        result("benchmark:bin:60", 1.0, 1.0),  # from a run before the gate: no decision recorded
    ]
    assert (
        "physworld deployed the planner on 1 of 2 tasks, where its residual did worse in the twin: "
        "benchmark:book:60" in markdown_table(rows, trials=10)
    )
    assert "deployed the planner" not in markdown_table([result("benchmark:bin:60", 1.0, 1.0)], trials=10)
