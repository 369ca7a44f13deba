"""Image-to-video generation: the first RGB(-D) frame and the prompt → a task video.

Backends are chosen by name (:mod:`.backends`); :mod:`.codec` stores videos as mp4; :mod:`.checks` holds the
cheap sanity checks the video asset runs. Only the configs are exported here, so importing the package does
not pull in a backend.
"""

from physworld_core.video.procedural import ProceduralVideoConfig
from physworld_core.video.realism import REALISM_PRESETS, RealismConfig

__all__ = ["REALISM_PRESETS", "ProceduralVideoConfig", "RealismConfig"]
