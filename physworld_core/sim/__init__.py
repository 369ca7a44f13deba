"""Simulation harness shared by benchmark worlds and reconstructed twins (ManiSkill3, CPU sim).

Worlds (hidden truth) and twins (reconstructed) are both :class:`TabletopEnv` subclasses, so a policy runs
unchanged in either. This package holds no truth: importing it from twin/ or policy/ is allowed.
"""
