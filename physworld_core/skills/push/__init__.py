"""Push: the closed gripper drives the object along the table onto a flat marking, never lifting it."""

RANK = 1
