"""The tracker's configuration, and the seeds whose fits shaped it (a regression test each, named after it)."""

from __future__ import annotations

import numpy as np
import pytest

from physworld_core.reconstruction.tracking import TrackingConfig


@pytest.mark.parametrize(
    "field, value",
    [
        ("min_confidence", 1.0),
        ("min_confidence", -0.1),
        ("max_unseen_seconds", -1.0),
        ("edge_margin_px", -2.0),
    ],
)
def test_out_of_range_settings_are_refused(field, value):
    """These checks sat after the ``axis`` property's return, where they never ran."""
    with pytest.raises(ValueError, match=field):
        TrackingConfig(**{field: value})


def test_the_default_settings_are_accepted():
    config = TrackingConfig()
    assert config.min_confidence == 0.3 and np.array_equal(config.axis, [0.0, 0.0, 1.0])
