"""A storage outage longer than the in-process window makes Dagster retry the step; other failures do not."""

from __future__ import annotations

import dagster as dg
import pytest

from physworld_core.errors import GroundingError
from physworld_core.lake.retry import StorageUnavailableError
from pipelines import retry
from pipelines.retry import retry_on_outage


@pytest.fixture(autouse=True)
def no_wait(monkeypatch):
    monkeypatch.setattr(retry, "STEP_RETRY_WAIT_S", 0)


def _flaky(error: Exception, failures: int, calls: list):
    def body(context):
        calls.append(context.retry_number)
        if len(calls) <= failures:
            raise error
        return dg.MaterializeResult(metadata={"attempt": context.retry_number})

    return body


def test_an_outage_retries_the_step_and_the_step_then_succeeds():
    calls: list = []
    asset = dg.asset(name="a")(retry_on_outage(_flaky(StorageUnavailableError("s3 down"), 2, calls)))
    result = dg.materialize([asset], raise_on_error=False)
    assert result.success and calls == [0, 1, 2]


def test_a_generator_asset_is_retried_too():
    calls: list = []

    @dg.multi_asset(specs=[dg.AssetSpec("x"), dg.AssetSpec("y")])
    @retry_on_outage
    def both(context):
        calls.append(context.retry_number)
        if len(calls) == 1:
            raise StorageUnavailableError("s3 down")
        yield dg.MaterializeResult(asset_key="x")
        yield dg.MaterializeResult(asset_key="y")

    assert dg.materialize([both], raise_on_error=False).success and calls == [0, 1]


def test_a_deterministic_failure_is_not_retried():
    calls: list = []
    asset = dg.asset(name="a")(retry_on_outage(_flaky(GroundingError("no yellow can"), 5, calls)))
    result = dg.materialize([asset], raise_on_error=False)
    assert not result.success and calls == [0]


def test_every_pipeline_and_export_step_retries_outages():
    from pipelines.definitions import build_definitions

    graph = build_definitions("local").resolve_asset_graph()
    steps = [ad for ad in graph.assets_defs if ad.is_executable and ad.keys]
    assert len(steps) >= 8
    for assets_def in steps:
        fn = getattr(assets_def.op.compute_fn, "decorated_fn", assets_def.op.compute_fn)
        assert getattr(fn, "__wrapped__", None) is not None, assets_def.keys
