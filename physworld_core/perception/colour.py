"""Name the colour of an object the way a person would, from its mean RGB.

Prompts say "the red can", not "the (183, 41, 37) can", so perception and language must meet on a small, fixed
vocabulary. The classifier works in hue / saturation / value and only uses broad perceptual boundaries
(where hue names change, when a colour is too grey or too dark to have a hue). It is deliberately *not* fitted
to the colours of any particular benchmark: a user's capture under their own lighting must name the same way.
Shading (the dark side of a can) changes value but not hue, which is why value only decides the achromatic
names and the brown/orange split.
"""

from __future__ import annotations

import colorsys

import numpy as np

PALETTE: tuple[str, ...] = (
    "red",
    "orange",
    "yellow",
    "green",
    "cyan",
    "blue",
    "purple",
    "pink",
    "brown",
    "white",
    "grey",
    "black",
)
"""Every name :func:`colour_name` can return, and every colour word a prompt may resolve to."""

COLOUR_SYNONYMS: dict[str, str] = {
    **{name: name for name in PALETTE},
    "gray": "grey",
    "silver": "grey",
    "crimson": "red",
    "scarlet": "red",
    "maroon": "red",
    "gold": "yellow",
    "golden": "yellow",
    "lime": "green",
    "olive": "green",
    "teal": "cyan",
    "turquoise": "cyan",
    "aqua": "cyan",
    "navy": "blue",
    "violet": "purple",
    "lilac": "purple",
    "lavender": "purple",
    "magenta": "pink",
    "fuchsia": "pink",
    "beige": "brown",
    "tan": "brown",
}
"""Words a person may use → palette name."""

ADJACENT_COLOURS: dict[str, frozenset[str]] = {
    "red": frozenset({"orange", "pink", "brown"}),
    "orange": frozenset({"red", "yellow", "brown"}),
    "yellow": frozenset({"orange", "green"}),
    "green": frozenset({"yellow", "cyan"}),
    "cyan": frozenset({"green", "blue"}),
    "blue": frozenset({"cyan", "purple"}),
    "purple": frozenset({"blue", "pink"}),
    "pink": frozenset({"red", "purple"}),
    "brown": frozenset({"orange", "red"}),
    "white": frozenset({"grey"}),
    "grey": frozenset({"white", "black"}),
    "black": frozenset({"grey"}),
}
"""Names on either side of a perceptual boundary: lighting can push a colour across it, so grounding accepts a
neighbour at a lower score instead of failing outright."""

# Boundaries of the hue wheel in degrees (HSV hue). A name covers [start, next start).
_HUE_BOUNDS: tuple[tuple[float, str], ...] = (
    (0.0, "red"),
    (15.0, "orange"),
    (42.0, "yellow"),
    (70.0, "green"),
    (160.0, "cyan"),
    (200.0, "blue"),
    (255.0, "purple"),
    (290.0, "magenta"),  # split below into pink / purple by lightness
    (335.0, "red"),
)

_BLACK_VALUE = 0.18
"""Below this value nothing has a readable hue: shadows and black plastic."""
_ACHROMATIC_SATURATION = 0.2
_ACHROMATIC_CHROMA = 0.07
"""Saturation *and* absolute chroma gates: dark pixels have noisy saturation, so both must be high."""
_WHITE_VALUE = 0.8
_DARK_GREY_VALUE = 0.2
_TAN_MAX_HUE = 55.0
_TAN_SATURATION = 0.55
_DARK_MUTED_VALUE = 0.4
_DARK_MUTED_SATURATION = 0.35
"""Dark *and* weakly saturated has no hue to a person: a black plate with a reddish cast under warm light
(RGB 90, 65, 70) reads as dark grey, a neighbour of black, not as red. A dark red in shadow keeps its high
saturation and its name."""


def colour_name(rgb: np.ndarray | tuple[float, float, float]) -> str:
    """Return the palette name of one RGB colour given in 0–255.

    Raises:
        ValueError: if ``rgb`` is not three finite numbers.
    """
    values = np.asarray(rgb, dtype=np.float64).reshape(-1)
    if values.shape != (3,) or not np.all(np.isfinite(values)):
        raise ValueError(f"colour_name expects three finite RGB values in 0-255, got {rgb!r}")
    r, g, b = np.clip(values / 255.0, 0.0, 1.0)
    hue, saturation, value = colorsys.rgb_to_hsv(r, g, b)
    chroma = max(r, g, b) - min(r, g, b)
    lightness = (max(r, g, b) + min(r, g, b)) / 2.0
    if value < _BLACK_VALUE:
        return "black"
    muted = value < _DARK_MUTED_VALUE and saturation < _DARK_MUTED_SATURATION
    if saturation < _ACHROMATIC_SATURATION or chroma < _ACHROMATIC_CHROMA or muted:
        if value >= _WHITE_VALUE:
            return "white"
        if value < _DARK_GREY_VALUE:
            return "black"
        return "grey"
    hue_deg = hue * 360.0
    name = "red"
    for start, label in _HUE_BOUNDS:
        if hue_deg >= start:
            name = label
    if name == "magenta":
        # Bright magenta reads as pink, dark magenta as purple.
        return "pink" if lightness >= 0.5 else "purple"
    if name == "red" and lightness > 0.65 and saturation < 0.6:
        return "pink"  # light, washed-out red
    if name == "orange" and value < 0.62:
        return "brown"  # dark orange *is* brown
    if (
        name in ("orange", "yellow")
        and hue_deg < _TAN_MAX_HUE
        and saturation < _TAN_SATURATION
        and value < 0.75
    ):
        return "brown"  # muted light orange-yellow is tan, a light brown (RGB 160, 135, 85)
    return name


ACHROMATIC: frozenset[str] = frozenset({"white", "grey", "black"})

SECOND_COLOUR_SHARE = 0.25
"""A hue covering this share of an object whose mean reads neutral is a colour it is known by too."""


def pixel_colour_names(rgb: np.ndarray) -> np.ndarray:
    """Palette name of each N×3 colour (named once per distinct colour: renders and JPEGs repeat colours)."""
    unique, inverse = np.unique(np.asarray(rgb).reshape(-1, 3), axis=0, return_inverse=True)
    return np.array([colour_name(c) for c in unique])[inverse.reshape(-1)]


def object_colours(rgb_pixels: np.ndarray) -> tuple[str, ...]:
    """The names an object goes by: its mean colour's, then, when that is neutral, the commonest hue that
    covers :data:`SECOND_COLOUR_SHARE` of its pixels. A pink paperback seen from above shows its off-white
    page block as much as its cover, and the mean of the two reads grey; a person still calls it pink."""
    pixels = np.asarray(rgb_pixels, dtype=np.float64).reshape(-1, 3)
    first = colour_name(pixels.mean(axis=0))
    if first not in ACHROMATIC:
        return (first,)
    names, counts = np.unique(pixel_colour_names(pixels.round()), return_counts=True)
    hues = [(c, str(n)) for n, c in zip(names, counts, strict=True) if n not in ACHROMATIC]
    if hues and max(hues)[0] >= SECOND_COLOUR_SHARE * len(pixels):
        return (first, max(hues)[1])
    return (first,)


def normalise_colour_word(word: str) -> str | None:
    """Map a colour word from a prompt to the palette, or ``None`` when the word is not a colour."""
    return COLOUR_SYNONYMS.get(word.strip().lower())


def colour_similarity(asked: str, seen: str) -> float:
    """1 for the same name, 0.5 for a perceptual neighbour, 0 otherwise."""
    if asked == seen:
        return 1.0
    if seen in ADJACENT_COLOURS.get(asked, frozenset()):
        return 0.5
    return 0.0
