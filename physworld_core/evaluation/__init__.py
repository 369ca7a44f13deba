"""Scoring against hidden truth. The only pipeline-side package allowed to import ``physworld_core.world``."""
