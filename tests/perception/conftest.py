"""Perception tests use the synthetic RGB-D scenes of ``synthetic_scenes.py`` (fixtures in tests/conftest.py)."""
