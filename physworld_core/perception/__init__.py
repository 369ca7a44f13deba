"""Perception shared by the video generator and the reconstruction stage.

From one RGB-D frame and a prompt: the support plane (:mod:`.plane`), the objects standing on it
(:mod:`.segment`), the parsed instruction (:mod:`.language`) and which objects it means (:mod:`.grounding`);
:func:`.perceive.perceive` runs all four. Import from the submodules; this package exports nothing so that
importing it stays cheap.
"""
