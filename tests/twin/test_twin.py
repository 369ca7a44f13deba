"""The twin: built from the reconstruction, it settles; a broken one is caught by the settle check."""

from __future__ import annotations

import dataclasses

import pytest

from physworld_core.errors import TwinError
from physworld_core.twin.factory import make_twin_env
from physworld_core.twin.settle import settle_twin
from physworld_core.twin.spec import PhysicsDraw, TwinSpec


def test_spec_round_trips_json(bin_twin_local):
    again = TwinSpec.from_json(bin_twin_local.to_json())
    assert again == bin_twin_local


def test_grip_parts_round_trip_and_must_name_collision_parts(bin_twin_local):
    target = bin_twin_local.target
    held = dataclasses.replace(target, grip_parts=(len(target.collision_meshes) - 1,))
    spec = dataclasses.replace(
        bin_twin_local, objects=tuple(held if o is target else o for o in bin_twin_local.objects)
    )
    assert TwinSpec.from_json(spec.to_json()).target.grip_parts == held.grip_parts
    with pytest.raises(TwinError, match="grip parts"):
        dataclasses.replace(target, grip_parts=(len(target.collision_meshes),))


def test_twin_settles(bin_twin_local):
    env = make_twin_env(bin_twin_local.to_json())
    try:
        report = settle_twin(env)
    finally:
        env.close()
    assert report.passed, report.reasons
    assert report.max_drift_m < 0.005


def test_interpenetrating_twin_fails_the_check(bin_twin_local):
    target = bin_twin_local.target
    obstacle = next(o for o in bin_twin_local.objects if o.role == "obstacle")
    sunk = dataclasses.replace(
        obstacle, pose=(target.pose[0], target.pose[1], target.pose[2] + 0.01, *obstacle.pose[3:])
    )
    spec = dataclasses.replace(
        bin_twin_local, objects=tuple(sunk if o is obstacle else o for o in bin_twin_local.objects)
    )
    env = make_twin_env(spec.to_json())
    try:
        report = settle_twin(env)
    finally:
        env.close()
    assert not report.passed
    assert any("interpenetrate" in r or "moved" in r for r in report.reasons), report.reasons


def test_masses_have_ranges_and_randomize(bin_twin_local):
    import numpy as np

    for obj in bin_twin_local.objects:
        assert obj.mass_range[0] <= obj.mass <= obj.mass_range[1]
    draws = [PhysicsDraw.sample(bin_twin_local, np.random.default_rng(s)).mass["target"] for s in range(5)]
    assert len(set(draws)) == 5
    assert all(bin_twin_local.target.mass_range[0] <= m <= bin_twin_local.target.mass_range[1] for m in draws)


def test_missing_collision_file_is_an_error(bin_twin_local):
    target = bin_twin_local.target
    broken = dataclasses.replace(target, collision_meshes=("/nonexistent/part.ply",))
    spec = dataclasses.replace(
        bin_twin_local, objects=tuple(broken if o is target else o for o in bin_twin_local.objects)
    )
    with pytest.raises((TwinError, ValueError, OSError)):
        make_twin_env(spec.to_json())
