"""Skills as plugins: one folder per skill, each holding everything specific to it.

The generic stages (perception, video, reconstruction, twin, policy) know no skill by name: each asks the
registry (:mod:`.registry`) for the hooks a task's skill brings to that stage. Adding a skill is adding a folder
here (with its tests); see :mod:`.registry` for the module each layer looks for, and :mod:`.base` for a skill
seen whole. This package's ``__init__`` imports nothing, so that importing a skill's module stays cheap.
"""
