"""Physical twin: a ManiSkill scene built from a reconstruction, with estimated physical properties."""

from physworld_core.twin.spec import GoalRegion, TwinObject, TwinSpec

__all__ = ["GoalRegion", "TwinObject", "TwinSpec"]
