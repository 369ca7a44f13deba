"""Pick and place: grasp the object, carry it along the video's path and let it go in, on or onto the goal (a
container's interior, the top of a solid or a lid's rim, a flat marking, or the free gap of a shelf's row)."""

RANK = 0
