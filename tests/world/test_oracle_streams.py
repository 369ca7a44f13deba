"""The oracles' action streams are bit-identical to those recorded before the skills became plugins (#23).

A restructuring of the pipeline must not change what any world, oracle, sim wrapper or controller does; the
recorded hashes (``data/oracle_streams.json``, seed 0 of every family that existed then; seeds 0-2 in
``bench/oracle_streams.json`` for ``python -m bench.oracle_streams --check``) are the evidence. A family added
later has no recorded stream and is not checked here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.oracle_streams import stream_hash

RECORDED = json.loads((Path(__file__).parent / "data" / "oracle_streams.json").read_text())


@pytest.mark.parametrize("family", sorted(RECORDED))
def test_oracle_action_stream_is_unchanged(family):
    recorded = RECORDED[family]
    found = stream_hash(family, recorded["seeds"])
    assert (found["steps"], found["success"]) == (recorded["steps"], recorded["success"])
    assert found["sha256"] == recorded["sha256"], f"{family}: the oracle's actions changed"
