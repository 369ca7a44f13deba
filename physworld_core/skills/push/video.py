"""The push skill's video: the object slides along the table onto the marking, neither lifted nor lowered."""

from __future__ import annotations

from physworld_core.perception.perceive import Perception
from physworld_core.skills.registry import skill_of
from physworld_core.video.skill import SkillVideo


class PushVideo(SkillVideo):
    name = skill_of(__name__)

    def slides(self, perception: Perception) -> bool:
        return True


HOOKS = PushVideo()
