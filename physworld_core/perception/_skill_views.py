"""Transitional (#23): the skills' views by kind, for the stages not yet turned into skill hooks."""

from __future__ import annotations

from physworld_core.skills.place.shelf import Slot
from physworld_core.skills.pour.perception import PourView
from physworld_core.skills.sweep.perception import SweepView
from physworld_core.skills.upright.perception import StandingAxis


def standing_of(perception):
    return perception.view if isinstance(perception.view, StandingAxis) else None


def pour_of(perception):
    return perception.view if isinstance(perception.view, PourView) else None


def sweep_of(perception):
    return perception.view if isinstance(perception.view, SweepView) else None


def slot_of(perception):
    return perception.view if isinstance(perception.view, Slot) else None
