"""Named colours for procedural objects: wide, saturated, mutually distinct, so a prompt can name them."""

from __future__ import annotations

import numpy as np

PALETTE: dict[str, tuple[float, float, float]] = {
    "red": (0.80, 0.08, 0.08),
    "orange": (0.95, 0.45, 0.05),
    "yellow": (0.92, 0.82, 0.10),
    "green": (0.10, 0.65, 0.15),
    "blue": (0.10, 0.25, 0.85),
    "purple": (0.50, 0.15, 0.70),
    "pink": (0.95, 0.45, 0.70),
    "cyan": (0.10, 0.75, 0.80),
}
CONTAINER_PALETTE: dict[str, tuple[float, float, float]] = {
    "grey": (0.45, 0.45, 0.47),
    "black": (0.10, 0.10, 0.11),
    "white": (0.88, 0.88, 0.86),
    "brown": (0.45, 0.28, 0.12),
}


def jitter_colour(
    rgb: tuple[float, float, float], rng: np.random.Generator, amount: float = 0.06
) -> list[float]:
    """Vary a named colour a little so no two worlds share an exact RGB value."""
    out = np.clip(np.asarray(rgb) + rng.uniform(-amount, amount, 3), 0.0, 1.0)
    return [*out.tolist(), 1.0]
