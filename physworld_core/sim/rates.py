"""The physics and policy rates of every physworld env, apart from the env itself: the readers of recorded
rollouts (the exporters, the world model) need the control rate without loading ManiSkill."""

from __future__ import annotations

SIM_HZ, CONTROL_HZ = 100, 20  # physics and policy rates of every physworld env
