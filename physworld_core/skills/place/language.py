"""How a placement is asked for: "put the red can in the bin", "pick up the lid and close the pot with it",
"shelve the book on the shelf", "put the pan on the plate by its handle".

A placement reads through the reader's moving forms (:func:`~physworld_core.perception.language.read_move`)
with a placing verb; so does a pushing verb aimed at a shelf ("slide the book into the gap on the shelf": onto
a raised board, so lifted in), unless the prompt says "by pushing it".
"""

from __future__ import annotations

import re

from physworld_core.perception.language import (
    SHELF_NOUNS,
    Instruction,
    Reading,
    SkillPhrases,
    read_move,
    refuse_table_goal,
)
from physworld_core.skills.registry import skill_of


class PlacePhrases(SkillPhrases):
    name = skill_of(__name__)
    order = 50
    example = (
        "'put the red can in the bin' (<verb> the [colour] <object> in/into/on the [colour] <container>)"
    )
    summary = "pick-and-place"
    unsupported = (
        (re.compile(r"\bhandle\b"), "grasping a named part in this wording (say 'by its handle')"),
    )
    holds_parts = True

    def parse(self, reading: Reading) -> Instruction | None:
        move = read_move(reading)
        if move is None:
            return None
        into_shelf = move.push_verb and move.goal_noun in SHELF_NOUNS and not reading.by_pushing
        if move.pushed and not into_shelf:
            return None  # the push skill's
        refuse_table_goal(move, reading.prompt)
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
            hold=min(reading.holds) if reading.holds else None,
            object_where=move.object_where,
            goal_where=move.goal_where,
        )


HOOKS = PlacePhrases()
