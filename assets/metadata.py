"""Metadata a person can judge at a glance in the Dagster UI: pictures, tables, rounded figures.

What Dagster 1.13's UI shows without a click (``MetadataEntry.tsx`` of its ui-core, on an asset's events
and overview pages): a markdown value **shorter than 1,000 characters** is rendered in place; a longer one
hides behind "[Show Markdown]". Its markdown renderer (react-markdown, rehype-sanitize, no raw HTML) keeps
images whose source is an http(s) URL, a relative URL or a ``data:`` URI, and has no way to size them. There
is no image metadata type. Table values (``MetadataValue.table``) always render as a table; float values
print every digit they have.

So a key picture travels inline as a ``data:`` URI small enough for the limit: a WebP thumbnail (about 50 px
high) inside an SVG that draws it at :data:`DISPLAY_HEIGHT` pixels, a strip of frames for a clip, and a
learning curve drawn as SVG vectors. The full-size picture (or animation) stays one click away. Figures are
rounded to what they mean (millimetres to 0.1, rates to 0.01, seconds to 0.1) before Dagster prints them.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg
import numpy as np

from physworld_core.lake.tables import TABLES, column_doc

#: Who answers for the assets (shown in the catalog; a team handle, per Dagster's owner format).
OWNERS = ["team:physworld"]

#: Dagster renders a markdown value inline only when it is shorter than this (ui-core MetadataEntry.tsx).
INLINE_MARKDOWN_LIMIT = 1000

#: On-screen height of an inline thumbnail: large enough to tell the objects apart, small enough for a strip
#: of three frames to fit the metadata column of a 1400-pixel-wide page.
DISPLAY_HEIGHT = 160

# Thumbnail raster heights and WebP qualities tried, best first, until the markdown fits the limit.
_THUMB_HEIGHTS = (64, 56, 48, 40, 32, 24, 16)
_THUMB_QUALITIES = (40, 25, 10)


# ---------------------------------------------------------------------------- figures


def mm(metres: float | None) -> float | None:
    """A length in metres as millimetres to 0.1 mm (what a grasp or a fit error is judged by)."""
    return None if metres is None else round(1000 * float(metres), 1)


def rate(value: float | None) -> float | None:
    """A rate, fraction or score in [0, 1] to 0.01."""
    return None if value is None else round(float(value), 2)


def seconds(value: float) -> float:
    """A duration to 0.1 s."""
    return round(float(value), 1)


#: Decimals a figure means, by the unit its name ends with (first match wins); anything else is a rate.
_DIGITS_BY_SUFFIX = (("_mm", 1), ("_deg", 1), ("_pct", 1), ("_kg", 3), ("_m", 4), ("seconds", 1), ("_s", 1))


def by_unit(name: str, value):
    """``value`` rounded to what a figure called ``name`` means (``*_mm`` to 0.1 mm, ``*_kg`` to 1 g,
    ``*_deg`` to 0.1°, seconds to 0.1 s, other floats, rates and scores, to 0.01); non-floats as they are."""
    if not isinstance(value, float):
        return value
    digits = next((d for suffix, d in _DIGITS_BY_SUFFIX if name.endswith(suffix)), 2)
    return round(value, digits)


# ---------------------------------------------------------------------------- pictures


def _svg_data_uri(svg: str) -> str:
    """The shortest markdown-safe ``data:`` URI of an SVG document (markdown destinations take no spaces
    or unbalanced parentheses, URLs no bare ``#`` or ``%``; ``<`` and ``>`` may stay as they are)."""
    escaped = svg
    for char, code in (("%", "%25"), ("#", "%23"), (" ", "%20"), ("(", "%28"), (")", "%29"), ('"', "%22")):
        escaped = escaped.replace(char, code)
    plain = f"data:image/svg+xml,{escaped}"
    packed = f"data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()}"
    return min(plain, packed, key=len)


def _inline(alt: str, uri: str) -> dg.MetadataValue:
    alt = alt.replace("[", "(").replace("]", ")")
    text = f"![{alt}]({uri})"
    if len(text) >= INLINE_MARKDOWN_LIMIT:
        raise ValueError(f"inline picture {alt!r} is {len(text)} characters, over Dagster's inline limit")
    return dg.MetadataValue.md(text)


def _side_by_side(images: Sequence[np.ndarray], height: int, gap: int = 1):
    from PIL import Image

    tiles = []
    for image in images:
        pil = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
        tiles.append(pil.resize((max(1, round(pil.width * height / pil.height)), height), Image.LANCZOS))
    canvas = Image.new("RGB", (sum(t.width for t in tiles) + gap * (len(tiles) - 1), height), "white")
    x = 0
    for tile in tiles:
        canvas.paste(tile, (x, 0))
        x += tile.width + gap
    return canvas


def thumbnail_md(images: Sequence[np.ndarray], caption: str) -> dg.MetadataValue:
    """Pictures side by side, small enough for Dagster to show them inline, drawn ``DISPLAY_HEIGHT`` high.

    The raster is the largest (then the sharpest) WebP thumbnail whose markdown stays under the limit;
    an SVG wrapper scales it up, since markdown cannot size an image."""
    if not len(images):
        raise ValueError("thumbnail_md needs at least one image")
    for height in _THUMB_HEIGHTS:
        canvas = _side_by_side(images, height)
        width = round(canvas.width * DISPLAY_HEIGHT / height)
        for quality in _THUMB_QUALITIES:
            buf = io.BytesIO()
            canvas.save(buf, format="WEBP", quality=quality, method=6)
            raster = base64.b64encode(buf.getvalue()).decode()
            svg = (
                f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{DISPLAY_HEIGHT}'>"
                f"<image width='{width}' height='{DISPLAY_HEIGHT}' preserveAspectRatio='none' "
                f"href='data:image/webp;base64,{raster}'/></svg>"
            )
            uri = _svg_data_uri(svg)
            if len(caption) + len(uri) + 5 < INLINE_MARKDOWN_LIMIT:
                return _inline(caption, uri)
    raise ValueError(f"{len(images)} images do not fit one inline thumbnail; show fewer")


def strip_md(frames: np.ndarray, caption: str, count: int = 3) -> dg.MetadataValue:
    """First, middle and last frame of a clip side by side, inline: where the motion starts and ends."""
    frames = np.asarray(frames)
    picked = np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)
    return thumbnail_md([frames[i] for i in picked], caption)


def image_md(
    images: list[np.ndarray], captions: list[str] | None = None, height: int = 160
) -> dg.MetadataValue:
    """Full-size PNGs side by side as markdown (over the inline limit: one click away)."""
    from PIL import Image

    parts = []
    for i, img in enumerate(images):
        pil = Image.fromarray(np.asarray(img, dtype=np.uint8))
        scale = height / pil.height
        pil = pil.resize((max(1, int(pil.width * scale)), height), Image.NEAREST)
        buf = io.BytesIO()
        pil.save(buf, format="PNG")
        caption = captions[i] if captions else f"image {i}"
        parts.append(f"![{caption}](data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()})")
    return dg.MetadataValue.md(" ".join(parts))


def gif_md(frames: np.ndarray, fps: float, caption: str, height: int = 128, max_frames: int = 48):
    """An animated GIF of a clip, subsampled to ``max_frames`` (over the inline limit: one click away)."""
    from PIL import Image

    frames = np.asarray(frames, dtype=np.uint8)
    stride = max(1, int(np.ceil(len(frames) / max_frames)))
    picked = frames[::stride]
    scale = height / picked.shape[1]
    size = (max(1, int(picked.shape[2] * scale)), height)
    images = [Image.fromarray(f).resize(size, Image.BILINEAR) for f in picked]
    buf = io.BytesIO()
    images[0].save(
        buf, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 * stride / fps), loop=0
    )
    return dg.MetadataValue.md(
        f"![{caption}](data:image/gif;base64,{base64.b64encode(buf.getvalue()).decode()})"
    )


_CURVE_COLOURS = ("blue", "red", "green", "purple")  # named: a "#" costs three characters


def curve_md(curves: dict[str, list[dict]], baseline: float | None = None) -> dg.MetadataValue:
    """Learning curves (env steps vs training-episode success, one line per learner) drawn as SVG vectors,
    inline; the planner's twin success as a dashed line. Curves are thinned until the markdown fits.

    The drawing has a 100 x 50 coordinate system (two-digit coordinates keep it short) shown 300 x 150."""
    if len(curves) > len(_CURVE_COLOURS):
        raise ValueError(f"curve_md draws at most {len(_CURVE_COLOURS)} curves, got {len(curves)}")
    left, right, top, bottom = 6, 99, 1, 43
    max_steps = max((c["env_steps"] for curve in curves.values() for c in curve), default=0) or 1

    def x(steps: float) -> int:
        return round(left + (right - left) * steps / max_steps)

    def y(success: float) -> int:
        return round(bottom - (bottom - top) * success)

    for points in (64, 32, 16, 8, 4, 2):
        parts = [
            (
                "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 100 50' width='300' height='150' "
                "font-size='3.5'>"
            ),
            f"<path d='M{left},{top}V{bottom}H{right}' fill='none' stroke='grey' stroke-width='.3'/>",
            f"<text y='4'>1</text><text y='{bottom}'>0</text>",
            f"<text x='{right}' y='48' text-anchor='end'>{max_steps} env steps</text>",
        ]
        if baseline is not None:
            parts.append(
                f"<path d='M{left},{y(baseline)}H{right}' stroke='grey' stroke-width='.4' stroke-dasharray='2'/>"
                f"<text x='{left + 2}' y='48' fill='grey'>-- planner</text>"
            )
        parts.append("<g fill='none' stroke-width='.8'>")
        legend = []
        for row, (colour, (label, curve)) in enumerate(zip(_CURVE_COLOURS, curves.items(), strict=False)):
            seen = [c for c in curve if c.get("success_rate") is not None]
            keep = np.unique(np.linspace(0, len(seen) - 1, min(points, len(seen))).round().astype(int))
            xy = ",".join(f"{x(seen[i]['env_steps'])},{y(seen[i]['success_rate'])}" for i in keep)
            if len(keep) == 1:  # a single update: a dot, not an invisible line
                xy = f"{xy},{xy}"
                parts.append(
                    f"<circle cx='{xy.split(',')[0]}' cy='{xy.split(',')[1]}' r='1' fill='{colour}'/>"
                )
            if xy:
                parts.append(f"<polyline points='{xy}' stroke='{colour}'/>")
            legend.append(f"<text x='{left + 2}' y='{5 + 4 * row}' fill='{colour}'>{label}</text>")
        parts += ["</g>", *legend, "</svg>"]
        uri = _svg_data_uri("".join(parts))
        if len(uri) + 20 < INLINE_MARKDOWN_LIMIT:
            return _inline("learning curve", uri)
    raise ValueError("the learning curves do not fit an inline picture; draw fewer")


# ---------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Column:
    """One column of a metadata table.

    Args:
        name: Column name (the row dicts' key).
        type: Dagster column type shown in the schema: "string", "int", "float" or "bool".
        description: What the column holds, with its unit.
        digits: Floats are rounded to this many decimals (what the figure means, not what it computed).
    """

    name: str
    type: str = "string"
    description: str = ""
    digits: int | None = None

    def __post_init__(self) -> None:
        if self.type not in ("string", "int", "float", "bool"):
            raise ValueError(f"Column {self.name!r}: type {self.type!r} is not string, int, float or bool")
        if self.type == "float" and self.digits is None:
            raise ValueError(f"Column {self.name!r}: a float column says how many digits it means")


def table(rows: list[dict], columns: Sequence[Column]) -> dg.TableMetadataValue:
    """Rows as a Dagster table (rendered inline), with a schema that describes each column."""

    def cell(value, column: Column):
        if value is None or column.type != "float":
            return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)
        return round(float(value), column.digits)

    return dg.MetadataValue.table(
        records=[dg.TableRecord({c.name: cell(row.get(c.name), c) for c in columns}) for row in rows],
        schema=dg.TableSchema(
            columns=[dg.TableColumn(c.name, c.type, description=c.description or None) for c in columns]
        ),
    )


def column_schema(table_name: str) -> dg.TableSchema:
    """The declared schema of a lake table as Dagster shows it: types, nullability, descriptions, units."""
    columns = []
    for field in TABLES[table_name].schema:
        description, unit = column_doc(field)
        columns.append(
            dg.TableColumn(
                field.name,
                str(field.type),
                description=f"{description} [{unit}]" if unit else description,
                constraints=dg.TableColumnConstraints(nullable=field.nullable),
            )
        )
    return dg.TableSchema(columns=columns)


def declared_here() -> dict:
    """Code-reference metadata pointing at the caller's line: for an ``AssetSpec``, which has no function
    for ``dg.with_source_code_references`` to point at."""
    import inspect

    caller = inspect.stack()[1]
    reference = dg.LocalFileCodeReference(file_path=caller.filename, line_number=caller.lineno)
    return {"dagster/code_references": dg.CodeReferencesMetadataValue(code_references=[reference])}


def table_metadata(table_name: str) -> dict:
    """Definition metadata of an asset stored as one lake table (``dagster/column_schema``)."""
    return {"dagster/column_schema": column_schema(table_name), "lake_table": table_name}
