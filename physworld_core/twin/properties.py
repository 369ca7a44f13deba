"""Physical property priors: mass from volume × a density prior, friction from a material prior.

A single RGB-D frame cannot see mass or friction, so each estimate carries a range wide enough to contain
common household objects; the policy stage randomizes over it. (Densities: hollow cans and cardboard
≈ 150–300 kg/m³, wood/plastic solids ≈ 500–1000 kg/m³.)

What the object is called narrows or moves that range where the everyday material of the category is known
(:data:`DENSITY_BY_NOUN`): a pot lid is glass, steel or ceramic, far denser than the cardboard and plastic
the general range is built for. The density here is the mass over the *reconstructed hull's* volume, so a
category whose members are hollow (a domed lid) gets a range reaching low, and one that is solid glass (a
flat lid) reaching high.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DensityPrior:
    """Mass per hull volume of a category (kg/m³): a nominal value and the range the policy randomizes over."""

    nominal: float
    low: float
    high: float
    why: str

    def __post_init__(self) -> None:
        if not (0 < self.low <= self.nominal <= self.high):
            raise ValueError(f"density prior needs 0 < low <= nominal <= high, got {self}")


_LID = DensityPrior(
    1000.0,
    250.0,
    2700.0,
    "glass (2500), stoneware (2300) or pressed steel; a domed steel lid's hull is mostly air (~250)",
)
_BALLS = DensityPrior(
    1500.0,
    400.0,
    3200.0,
    "small solid balls: wood (~600), plastic (1000-1400), glass marbles (2500), ceramic or steel-cored beads",
)
DENSITY_BY_NOUN: dict[str, DensityPrior] = {
    "lid": _LID,
    "cover": _LID,
    **{noun: _BALLS for noun in ("balls", "ball", "marbles", "marble", "beads", "bead")},
}
"""Category priors, looked up by the last word of the noun the prompt calls the object ("pot lid" → "lid")."""


@dataclass(frozen=True)
class PropertyPriors:
    """Args:
    density: nominal density (kg/m³) for movable objects.
    density_range: (low, high) density range.
    friction: nominal Coulomb friction; friction_range its range.
    container_mass: mass assigned to containers, which are treated as fixtures.
    """

    density: float = 450.0
    density_range: tuple[float, float] = (120.0, 1200.0)
    friction: float = 0.8
    friction_range: tuple[float, float] = (0.45, 1.25)
    container_mass: float = 2.0

    def __post_init__(self) -> None:
        if not (0 < self.density_range[0] <= self.density <= self.density_range[1]):
            raise ValueError(f"density {self.density} outside its range {self.density_range}")
        if not (0 < self.friction_range[0] <= self.friction <= self.friction_range[1]):
            raise ValueError(f"friction {self.friction} outside its range {self.friction_range}")

    def density_for(self, noun: str = "") -> DensityPrior:
        """The category prior of an object called ``noun`` ("pot lid"), else the general one."""
        words = noun.lower().split()
        known = DENSITY_BY_NOUN.get(words[-1]) if words else None
        return known or DensityPrior(self.density, *self.density_range, "general household prior")

    def mass_for(self, volume_m3: float, noun: str = "") -> tuple[float, tuple[float, float]]:
        if not np.isfinite(volume_m3) or volume_m3 <= 0:
            raise ValueError(f"cannot estimate mass from volume {volume_m3}")
        prior = self.density_for(noun)
        return prior.nominal * volume_m3, (prior.low * volume_m3, prior.high * volume_m3)
