"""A small PhysGen-style world-action model trained on the platform's own exports (the virtuous cycle).

Read in this order: ``config`` (the model's shape, the training budgets), ``model`` (autoencoder, tokens,
causal transformer, heads, KV cache), ``data`` (LeRobot v3 and clip-set readers), ``train`` (three phases,
resumable), ``policy`` (the ``world_model`` evaluation method), ``backend`` (the ``learned`` video backend),
``stage`` (what the asset calls). This package exports configs only (no torch at import); import the rest
from its modules.
"""

from physworld_core.worldmodel.config import TrainConfig, WorldModelConfig

__all__ = ["TrainConfig", "WorldModelConfig"]
