"""Issue #29's fault cases as tests, through the same registry ``python -m bench.faults`` reports from.

The fast cases (bad inputs, corruption of a small hand-made lake, concurrent writers and inbox processors: no
pipeline run) run in ``make test``; the cases that run the pipeline (crash points, two runs at once,
corruption healed by a run or a repair, S3 outages, a dead run) are slow-marked and run in ``make bench``.
Below them, the harness's own measurements are checked on planted faults, so a case cannot pass because the
harness stopped looking.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter

import pytest

from bench.fault_cases import CASES
from bench.faults import (
    STAGES,
    Bench,
    FaultCase,
    Outcome,
    compare_rows,
    files_outside,
    run_case,
)

FAST = [name for name, case in CASES.items() if not case.slow]
SLOW = [
    pytest.param(name, marks=[pytest.mark.s3] if case.fault_class == "S3 loss" else [])
    for name, case in CASES.items()
    if case.slow
]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """One bench per module: the slow cases share its clean run."""
    with Bench(tmp_path_factory.mktemp("faults")) as bench:
        yield bench


def _assert_passed(result) -> None:
    assert result.passed, (
        f"{result.name}: {result.observed} | lost {result.lost_rows}, duplicated {result.duplicated_rows}, "
        f"outside {list(result.outside)}"
    )


@pytest.mark.parametrize("name", FAST)
def test_fast_fault_case(bench, name):
    _assert_passed(run_case(CASES[name], bench))


@pytest.mark.slow
@pytest.mark.timeout(3600)  # a case runs the pipeline up to three times; the first one also the clean run
@pytest.mark.parametrize("name", SLOW)
def test_pipeline_fault_case(bench, name):
    _assert_passed(run_case(CASES[name], bench))


def test_every_class_of_the_issue_is_covered():
    classes = Counter(case.fault_class for case in CASES.values())
    assert set(classes) == {"crash point", "concurrency", "bad input", "corruption", "S3 loss", "dead run"}
    assert {f"crash-{stage}" for stage in STAGES} <= set(CASES)
    assert classes["bad input"] >= 20 and classes["corruption"] >= 6


# --- the harness's measurements find what they are meant to find -------------------------------------------


def test_row_comparison_counts_lost_duplicated_and_extra_keys():
    reference = {
        "evaluations": Counter({("t", "physworld", 0): 1, ("t", "physworld", 1): 1}),
        "tasks": Counter({("t",): 1}),
    }
    actual = {
        "evaluations": Counter({("t", "physworld", 0): 2, ("t", "physworld", 7): 1}),
        "tasks": Counter({("t",): 1}),
    }
    diff = compare_rows(reference, actual)
    assert (diff.lost, diff.duplicated, diff.extra) == (1, 1, 1)
    assert "evaluations (-1 +1 x1)" in diff.detail and "tasks" not in diff.detail.split("differing:")[1]
    same = compare_rows(reference, reference)
    assert (same.lost, same.duplicated, same.extra) == (0, 0, 0)


def test_files_outside_are_found(bench):
    scratch = bench.scratch("harness")
    assert files_outside(scratch) == []

    (scratch.tmp / "physworld-ppo-x").mkdir()
    (scratch.tmp / "physworld-ppo-x" / "ppo.safetensors").write_bytes(b"left behind")
    data = b"a lake blob"
    digest = hashlib.sha256(data).hexdigest()
    cached = scratch.tmp / "physworld-blob-cache" / "sha256" / digest[:2] / f"{digest}.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(data)  # a verified copy of lake data: not outside
    (cached.parent / f"{'0' * 64}.bin").write_bytes(data)  # does not hash to its name: outside
    (scratch.cwd / "PHYSWORLD_LAKE").mkdir()
    (scratch.cwd / "PHYSWORLD_LAKE" / "x").write_text("x")
    secret = scratch.root / "secret.txt"
    secret.write_bytes(b"SECRET OUTSIDE THE LAKE, LONG ENOUGH")
    scratch.watched.append(secret)
    scratch.lake_dir.mkdir()
    (scratch.lake_dir / "copy.json").write_bytes(b'{"prompt": "SECRET OUTSIDE THE LAKE, LONG ENOUGH"}')
    os.symlink("/etc/hostname", scratch.lake_dir / "link.txt")
    with open(scratch.lake_dir / "filled.bin", "wb") as handle:
        handle.truncate(300 << 20)  # sparse: not allocated, not reported
    found = files_outside(scratch)
    assert "TMPDIR/physworld-ppo-x/ppo.safetensors" in found
    assert not any(digest in entry for entry in found)
    assert any("0" * 64 in entry for entry in found)
    assert "cwd/PHYSWORLD_LAKE/x" in found
    assert any(entry.startswith("lake/copy.json (holds") for entry in found)
    assert any(entry.startswith("lake/link.txt (a link to /etc/hostname)") for entry in found)
    assert not any("filled.bin" in entry for entry in found)
    assert len(found) == 5, found


def test_a_case_with_a_file_left_outside_fails(bench):
    def leaves_a_file(bench, scratch):
        (scratch.tmp / "physworld-work").mkdir()
        (scratch.tmp / "physworld-work" / "mirror.bin").write_bytes(b"x")
        return Outcome("did its work", True, 0, 0)

    result = run_case(FaultCase("harness-leak", "bad input", "nothing outside", leaves_a_file), bench)
    assert not result.passed and result.outside == ("TMPDIR/physworld-work/mirror.bin",)
    lost = run_case(
        FaultCase("harness-lost", "crash point", "0 lost", lambda b, s: Outcome("ran", True, 2, 0)), bench
    )
    assert not lost.passed and lost.lost_rows == 2
