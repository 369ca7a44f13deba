"""Sweep: hold a brush by its handle and push the small things lying in front of a dustpan into it."""

RANK = 4
