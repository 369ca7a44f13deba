"""Lift: grasp the object and raise it, ending held (not let go) at a stated height above the table or above a
named object ("pick up the red cube", "lift the can 10 cm", "raise the box above the bin")."""

RANK = 5
