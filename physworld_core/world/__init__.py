"""Benchmark worlds: procedural ManiSkill scenes with hidden truth (geometry, masses, frictions, success).

Only ``physworld_core.evaluation`` and benchmark scripts may import this package: the pipeline sees a world
only through the scene package it renders.
"""

from physworld_core.world.registry import FAMILIES, WorldFamily, family_names, get_family

__all__ = ["FAMILIES", "WorldFamily", "family_names", "get_family"]
