"""What every benchmark world env shares: its layout from the world seed, ManiSkill's table, per-trial jitter
and the hidden truth it is scored against."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from mani_skill.utils.scene_builder.table import TableSceneBuilder
from transforms3d.euler import euler2quat

from physworld_core.sim.base_env import TabletopEnv


class WorldEnv(TabletopEnv):
    """A family's ground-truth world: the scene ``sample_layout`` draws from ``world_seed``, on ManiSkill's
    table, with the movable objects jittered by a few millimetres per trial (episode seed).

    Subclasses set ``sample_layout`` (as a ``staticmethod``) and ``MASSES`` (the layout fields whose mass the
    truth reports), and implement ``_build_world`` (the objects on the table; ``target_object`` must be set),
    ``_place_objects``, ``evaluate`` and ``goal_actor``.
    """

    sample_layout: Callable[[int], Any]
    MASSES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args, world_seed: int = 0, reset_jitter_m: float = 0.003, **kwargs):
        self.layout = self.sample_layout(world_seed)
        self.reset_jitter_m = reset_jitter_m
        super().__init__(*args, **kwargs)

    def _build_objects(self) -> None:
        # No robot pose noise of the table's own: the robot's rest pose is set in ``_initialize_episode``.
        self.table_scene = TableSceneBuilder(self, robot_init_qpos_noise=0.0)
        self.table_scene.build()
        self._build_world()

    def _build_world(self) -> None:
        raise NotImplementedError

    def _jitter(self) -> np.ndarray | tuple[float, float]:
        """A per-trial (dx, dy) with standard deviation ``reset_jitter_m``, drawn from the episode's own
        generator: trials of one world differ a little, and the same episode seed replays the same trial."""
        if self.reset_jitter_m <= 0:
            return (0.0, 0.0)
        rng = self._batched_episode_rng[0] if self._batched_episode_rng is not None else np.random
        return rng.normal(0.0, self.reset_jitter_m, 2)

    def _place_jittered(self, actor, xy, z: float, yaw: float) -> None:
        """Stand an actor at rest at its layout pose (``xy``, height ``z``, turned ``yaw`` about z) plus this
        trial's jitter."""
        dx, dy = self._jitter()
        self._set_at_rest(actor, (xy[0] + dx, xy[1] + dy, z), euler2quat(0, 0, yaw))

    def goal_actor(self):
        """The actor the task brings the target to (a bin, a shelf, a marked region), or ``None`` when it has
        none. Fidelity scores the reconstructed container / goal object against this actor's collision surface.
        A method of the world rather than of the family, because a family may have a goal in some worlds and
        none in others."""
        raise NotImplementedError(f"{type(self).__name__} must say which actor is its goal (or None)")

    def truth(self) -> dict:
        """Hidden truth for scoring: the layout, with the mass of each object named in ``MASSES``."""
        d = self.layout.to_dict()
        for key in self.MASSES:
            d[key]["mass"] = getattr(self.layout, key).mass
        return d
