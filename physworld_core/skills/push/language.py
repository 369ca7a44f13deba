"""How a push is asked for: a pushing verb ("push", "slide", "shove", "nudge", "pull", "drag") or a placement
said "by pushing it", ending on a flat marking ("push the cube onto the red and white target", "slide the puck
to the circle"). The moving forms are the reader's (:func:`~physworld_core.perception.language.read_move`); a
pushing verb aimed at a shelf is the place skill's (lifted onto its board)."""

from __future__ import annotations

from physworld_core.errors import GroundingError
from physworld_core.perception.language import REGION_NOUNS, Instruction, Reading, SkillPhrases, read_move
from physworld_core.skills.registry import skill_of


class PushPhrases(SkillPhrases):
    name = skill_of(__name__)
    order = 60
    example = "'push the blue cube onto the red target'"
    summary = "push"

    def parse(self, reading: Reading) -> Instruction | None:
        move = read_move(reading)
        if move is None or not move.pushed:
            return None
        prompt = reading.prompt
        if move.goal_noun not in REGION_NOUNS:
            raise GroundingError(
                f"prompt {prompt!r}: a push ends with the object lying on a flat marking on the table (a target, "
                f"circle, square, pad…), not in or on the {move.goal_noun}; to lift it there, say 'put the "
                f"{move.object_text} {move.relation_text or move.relation} the {move.goal_text}'"
            )
        if reading.holds:
            raise GroundingError(
                f"prompt {prompt!r}: a push does not hold the object, so not by its {min(reading.holds)}"
            )
        return Instruction(
            object_phrase=move.object_phrase,
            object_colour=move.object_colours[0] if move.object_colours else None,
            object_noun=move.object_noun,
            goal_phrase=move.goal_phrase,
            goal_colour=move.goal_colours[0] if move.goal_colours else None,
            goal_noun=move.goal_noun,
            relation=move.relation,
            skill=self.name,
            goal_colours=move.goal_colours,
            object_where=move.object_where,
            goal_where=move.goal_where,
        )


HOOKS = PushPhrases()
