"""Metadata made for the Dagster UI: pictures short enough to be shown inline, tables with a schema, figures
rounded to what they mean. (Dagster 1.13 renders a markdown value inline only under 1,000 characters.)"""

from __future__ import annotations

import base64
import io
import re
import urllib.parse

import numpy as np
import pytest
from PIL import Image

from assets.metadata import (
    DISPLAY_HEIGHT,
    INLINE_MARKDOWN_LIMIT,
    Column,
    by_unit,
    column_schema,
    curve_md,
    mm,
    strip_md,
    table,
    thumbnail_md,
)
from physworld_core.lake import TABLES


def _scene(seed: int, size: int = 128) -> np.ndarray:
    """A table top with a few coloured blocks and sensor noise: what a rendered scene compresses like."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size, 3), np.uint8) + np.array([170, 110, 60], np.uint8)
    for _ in range(4):
        x, y, w = rng.integers(0, size - 24, 2).tolist() + [int(rng.integers(8, 24))]
        image[y : y + w, x : x + w] = rng.integers(0, 255, 3)
    return np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)


def _svg(markdown: str) -> str:
    """The SVG document of an inline picture's ``data:`` URI (percent-encoded or base64)."""
    uri = re.fullmatch(r"!\[[^\]]*\]\((data:image/svg\+xml[^)]*)\)", markdown).group(1)
    if uri.startswith("data:image/svg+xml;base64,"):
        return base64.b64decode(uri.split(",", 1)[1]).decode()
    return urllib.parse.unquote(uri.split(",", 1)[1])


def _raster(markdown: str) -> Image.Image:
    """The WebP inside an inline thumbnail's SVG."""
    raster = re.search(r"href='data:image/webp;base64,([^']+)'", _svg(markdown)).group(1)
    return Image.open(io.BytesIO(base64.b64decode(raster)))


@pytest.mark.parametrize("seed", range(4))
def test_a_scene_and_its_depth_fit_inline_at_a_readable_size(seed):
    markdown = thumbnail_md([_scene(seed), _scene(seed + 10)], "rgb | depth").md_str
    assert len(markdown) < INLINE_MARKDOWN_LIMIT
    raster = _raster(markdown)
    assert raster.height >= 40 and raster.width >= 2 * raster.height
    assert f"height='{DISPLAY_HEIGHT}'" in _svg(markdown)  # drawn larger than its raster


def test_noise_still_fits_inline_smaller():
    noise = np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    markdown = thumbnail_md([noise, noise], "noise").md_str
    assert len(markdown) < INLINE_MARKDOWN_LIMIT
    assert _raster(markdown).height >= 16


def test_a_clip_strip_shows_first_middle_and_last_frame():
    frames = np.stack([np.full((32, 32, 3), 8 * i, np.uint8) for i in range(31)])
    markdown = strip_md(frames, "clip").md_str
    assert len(markdown) < INLINE_MARKDOWN_LIMIT
    raster = np.asarray(_raster(markdown).convert("L"), dtype=float)
    tile = raster.shape[0]
    means = [raster[:, i * (tile + 1) : i * (tile + 1) + tile].mean() for i in range(3)]
    assert means[0] < 10 and abs(means[1] - 120) < 10 and means[2] > 230


def test_learning_curves_are_vectors_short_enough_to_show_inline():
    rng = np.random.default_rng(0)
    curves = {
        method: [{"env_steps": 256 * i, "success_rate": float(rng.uniform())} for i in range(1, 41)]
        for method in ("physworld", "scratch_rl", "oracle_twin")
    }
    curves["physworld"][3]["success_rate"] = None  # an update without finished episodes
    markdown = curve_md(curves, baseline=0.5).md_str
    assert len(markdown) < INLINE_MARKDOWN_LIMIT
    svg = _svg(markdown)
    assert svg.count("<polyline") == 3 and "10240 env steps" in svg
    assert all(f">{method}</text>" in svg for method in curves)


def test_tables_round_each_column_to_its_digits_and_describe_it():
    value = table(
        [{"method": "physworld", "success": 0.6666666, "error_mm": 1.23456}],
        [
            Column("method", "string", "policy"),
            Column("success", "float", "success rate", digits=2),
            Column("error_mm", "float", "error [mm]", digits=1),
        ],
    )
    assert value.records[0].data == {"method": "physworld", "success": 0.67, "error_mm": 1.2}
    assert [c.description for c in value.schema.columns] == ["policy", "success rate", "error [mm]"]
    with pytest.raises(ValueError, match="digits"):
        Column("x", "float")


def test_figures_are_rounded_by_their_unit():
    assert mm(0.00046758714053778957) == 0.5
    assert by_unit("target_chamfer_mm", 3.14159) == 3.1
    assert by_unit("mass_true_kg", 0.123456) == 0.123
    assert by_unit("reconstruction_seconds", 13.538933) == 13.5
    assert by_unit("plane_iou", 0.912345) == 0.91
    assert by_unit("goal_found", True) is True


@pytest.mark.parametrize("name", sorted(TABLES))
def test_the_column_schema_of_a_table_is_its_declaration(name):
    schema = column_schema(name)
    assert [c.name for c in schema.columns] == list(TABLES[name].columns)
    assert all(c.description for c in schema.columns)
