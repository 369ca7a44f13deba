"""Rows printed as an aligned text table: what the CLI shows a person instead of Python dicts."""

from __future__ import annotations

from collections.abc import Sequence


def _cell(value: object, max_width: int) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = f"{value:.3g}"
    else:
        text = str(value)
    text = " ".join(text.split())  # one line per row, whatever the value holds
    return text if len(text) <= max_width else text[: max_width - 1] + "…"


def text_table(rows: Sequence[dict], columns: Sequence[str] | None = None, max_width: int = 48) -> str:
    """``rows`` (dicts) as a table with a header line; missing values print as ``-``."""
    if not rows:
        return "(none)"
    columns = list(columns or rows[0])
    cells = [[_cell(row.get(c), max_width) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def key_values(pairs: Sequence[tuple[str, object]]) -> str:
    """``key  value`` lines, keys aligned: one record (``physworld status``)."""
    width = max(len(k) for k, _ in pairs)
    return "\n".join(f"{k.ljust(width)}  {_cell(v, 200)}" for k, v in pairs)
