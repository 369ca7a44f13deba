"""Physical property priors: mass from volume × a density prior, friction from a material prior.

A single RGB-D frame cannot see mass or friction, so each estimate carries a range wide enough to contain
common household objects; the policy stage randomizes over it. (Densities: hollow cans and cardboard
≈ 150–300 kg/m³, wood/plastic solids ≈ 500–1000 kg/m³.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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

    def mass_for(self, volume_m3: float) -> tuple[float, tuple[float, float]]:
        if not np.isfinite(volume_m3) or volume_m3 <= 0:
            raise ValueError(f"cannot estimate mass from volume {volume_m3}")
        return (
            self.density * volume_m3,
            (self.density_range[0] * volume_m3, self.density_range[1] * volume_m3),
        )
