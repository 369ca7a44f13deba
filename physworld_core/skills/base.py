"""A skill seen whole: its hooks at every layer, for what looks at skills from above the pipeline (the contract
test over the registry, the documentation, a tool listing what the pipeline plans).

The pipeline itself never uses this: each layer asks only for its own hooks (``phrases_of``, ``perception_of``,
``video_of``, ``reconstruction_of``, ``twin_of``, ``policy_of``), so that a skill's later layers are not
loaded by an earlier one. This module sits after the policy layer and before evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

from physworld_core.perception.language import SkillPhrases, phrases_of
from physworld_core.perception.skill import SkillPerception, perception_of
from physworld_core.policy.skill import SkillPolicy, policy_of
from physworld_core.reconstruction.skill import SkillReconstruction, reconstruction_of
from physworld_core.skills.registry import check_skill, skill_names
from physworld_core.twin.skill import SkillTwin, twin_of
from physworld_core.video.skill import SkillVideo, video_of


@dataclass(frozen=True)
class Skill:
    """One registered skill: ``physworld_core/skills/<name>/``, with the typed hooks it brings to each layer
    (the layer's base class where it has no module of its own there)."""

    name: str

    def __post_init__(self) -> None:
        check_skill(self.name)

    @property
    def phrases(self) -> SkillPhrases:
        """How the prompt reader knows it (``language.py``)."""
        return phrases_of(self.name)

    @property
    def perception(self) -> SkillPerception:
        """What perception measures for it (``perception.py``)."""
        return perception_of(self.name)

    @property
    def video(self) -> SkillVideo:
        """How the procedural video moves the object and how a video is checked (``video.py``)."""
        return video_of(self.name)

    @property
    def reconstruction(self) -> SkillReconstruction:
        """What reconstruction models for it (``reconstruction.py``)."""
        return reconstruction_of(self.name)

    @property
    def twin(self) -> SkillTwin:
        """Its goals in the twin (``twin.py``)."""
        return twin_of(self.name)

    @property
    def policy(self) -> SkillPolicy:
        """Its plan and controller (``policy.py``)."""
        return policy_of(self.name)


def get_skill(name: str) -> Skill:
    """The registered skill ``name``.

    Raises:
        UnknownSkillError: no folder in ``physworld_core/skills/`` is called that.
    """
    return Skill(name)


def all_skills() -> list[Skill]:
    """Every registered skill, in listing order."""
    return [Skill(name) for name in skill_names()]
