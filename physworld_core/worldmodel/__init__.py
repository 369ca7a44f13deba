"""A small PhysGen-style world-action model trained on the platform's own exports (the virtuous cycle).

Read in this order: ``model`` (autoencoder, tokens, causal transformer, heads, KV cache), ``data`` (LeRobot v3
and clip-set readers), ``train`` (three phases, resumable), ``policy`` (the ``world_model`` evaluation method),
``backend`` (the ``learned`` video backend), ``stage`` (what the asset calls). This package exports configs
only; import the rest from its modules.
"""

from physworld_core.worldmodel.model import WorldModelConfig
from physworld_core.worldmodel.train import TrainConfig

__all__ = ["TrainConfig", "WorldModelConfig"]
