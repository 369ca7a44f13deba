"""Every registered skill keeps the same contract; a new skill is tested by adding its folder and a world to try
it in (:data:`WORLD_CASES`), as ``tests/world/test_families.py`` tests every world family.

Per skill (``physworld_core.skills.base.all_skills()``): its example phrasings, and its world's prompts, read as
that skill; its perception extras run on its world's first frame (and store with the perception); the
procedural video of that frame passes the video checks, which a video played backwards fails; the twin
reconstructed from the video has a goal of the skill's kinds, which the skill's plan ends at; the plan's baseline
meets the goal in the twin, which doing nothing does not (these two reconstruct a twin per skill: marked slow,
run them with ``-m slow``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from physworld_core.perception.language import parse_instruction
from physworld_core.skills.base import Skill, all_skills
from physworld_core.video.checks import check_video
from tests.skills.staging import run_in_twin

SKILLS = [skill.name for skill in all_skills()]


@dataclass(frozen=True)
class WorldCase:
    """A benchmark world in which a skill applies.

    Args:
        family, seed: the world.
        prompt: what to ask in it (from its layout), in place of the world's own prompts; ``None``: the world's
            own (every phrasing of its family must read as the skill).
    """

    family: str
    seed: int
    prompt: Callable[[object], str] | None = None

    def prompts(self) -> list[str]:
        from physworld_core.world import get_family

        family = get_family(self.family)
        layout = family.sample_layout(self.seed)
        if self.prompt is not None:
            return [self.prompt(layout)]
        return [family.prompt_for(layout, k) for k in range(family.num_phrasings)]

    def asked(self) -> str | None:
        """The prompt the world's scene is asked (``None``: its own)."""
        return None if self.prompt is None else self.prompts()[0]


WORLD_CASES: dict[str, WorldCase] = {
    "place": WorldCase("bin", 3),
    "push": WorldCase("push", 3),
    "upright": WorldCase("upright", 4),
    "pour": WorldCase("pour", 0),
    "sweep": WorldCase("sweep", 3),
    "lift": WorldCase("lift", 2),  # lifted where it stands
}
"""Where each registered skill is tried: a world and seed whose scene the skill's baseline is known to do."""


def _staged(staged, name: str):
    case = WORLD_CASES[name]
    return staged(case.family, case.seed, case.asked())


def test_every_registered_skill_has_a_world_to_be_tried_in():
    missing = sorted(set(SKILLS) - set(WORLD_CASES))
    assert not missing, f"add a WorldCase for the skills {missing} (a benchmark world where each applies)"
    assert sorted(WORLD_CASES) == sorted(SKILLS), "WORLD_CASES names a skill that is not registered"


@pytest.mark.parametrize("name", SKILLS)
def test_the_phrases_read_as_the_skill(name):
    phrases = Skill(name).phrases
    examples = re.findall(r"'([^']+)'", phrases.example)
    assert examples and phrases.summary, f"skill {name!r} needs an example prompt (quoted) and a summary"
    for prompt in [*examples, *WORLD_CASES[name].prompts()]:
        got = parse_instruction(prompt)
        assert got.skill == name, f"{prompt!r} reads as skill {got.skill!r}, not {name!r}"


@pytest.mark.parametrize("name", SKILLS)
def test_the_perception_extras_run_on_its_world(name, staged):
    from physworld_core.perception.codec import decode, encode

    perception = _staged(staged, name).perception
    hooks = Skill(name).perception
    assert perception.instruction.skill == name
    assert perception.target is not None
    assert (perception.goal is not None) == perception.instruction.has_goal_object
    if hooks.view_type is not None and not hooks.view_optional:
        assert isinstance(perception.view, hooks.view_type), (
            f"skill {name!r} measured no view: {perception.view!r}"
        )
    stored = decode(encode(perception))
    assert stored.instruction == perception.instruction
    assert type(stored.view) is type(perception.view)
    assert stored.target.index == perception.target.index


@pytest.mark.parametrize("name", SKILLS)
def test_the_procedural_video_passes_its_checks(name, staged):
    got = _staged(staged, name)
    assert got.video.plan["instruction"]["skill"] == name
    assert got.checks["passed"], got.checks
    # Played backwards, the same motion ends where the object began: the skill's own end test fails it.
    backwards = check_video(got.video.frames[::-1].copy(), got.scene, perception=got.perception)
    assert not backwards["target_ends_in_goal"], backwards


@pytest.mark.slow  # a reconstruction and a twin per skill: 15-60 s each on 2 busy cores
@pytest.mark.parametrize("name", SKILLS)
def test_the_twin_goal_is_one_of_the_skill_and_the_plan_ends_at_it(name, staged):
    from physworld_core.policy.plan import TaskPlan
    from physworld_core.policy.stage import target_mesh
    from physworld_core.twin.regions import footprint

    got = _staged(staged, name)
    twin, plan, skill = got.twin, got.plan, Skill(name)
    assert twin.skill == name and twin.goal.kind in skill.twin.goal_kinds
    assert plan.skill == name and TaskPlan.from_json(plan.to_json()) == plan
    # Reachable: where the plan leaves the object lies over the goal, give or take the object's own reach.
    _, _, reach = footprint(target_mesh(twin)[0])
    end = np.asarray(plan.release_position)
    off = float(np.linalg.norm(end[:2] - np.asarray(twin.goal.center[:2])))
    assert off <= max(twin.goal.half_extents) + reach, (off, plan.release_position, twin.goal)


@pytest.mark.slow  # a reconstruction and a twin per skill: 15-60 s each on 2 busy cores
@pytest.mark.parametrize("name", SKILLS)
def test_the_plan_succeeds_in_the_twin_and_doing_nothing_does_not(name, staged):
    got = _staged(staged, name)
    result = run_in_twin(got.twin, got.plan)
    assert result["success"], result
    idle = run_in_twin(got.twin, got.plan, act=lambda obs, base: np.zeros_like(base))
    assert not idle["success"], idle
