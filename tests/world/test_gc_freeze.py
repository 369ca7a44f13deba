"""Scene rebuilds do not re-scan the imports: the first env a process builds freezes what is alive then
(``gc.freeze``), so ManiSkill's ``gc.collect()`` on every reconfiguration walks only what came after."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap


def test_the_first_env_freezes_the_imports_once_and_later_envs_do_not_refreeze():
    # In a fresh interpreter: the test session's own objects would blur the counts.
    script = textwrap.dedent(
        """
        import gc
        import physworld_core.sim.base_env as base
        from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env

        assert gc.get_freeze_count() == 0
        env = make_world_env(BenchmarkTask("push", 0))
        frozen = gc.get_freeze_count()
        assert frozen > 100_000, frozen  # torch, ManiSkill and SAPIEN's objects
        env.reset(seed=0)
        env.close()
        again = make_world_env(BenchmarkTask("push", 1))
        again.reset(seed=1)
        assert gc.get_freeze_count() == frozen  # once per process: the first env's scene is not frozen
        tracked = len(gc.get_objects())
        assert tracked < frozen / 2, (tracked, frozen)  # what a collection still walks
        again.close()
        print("ok", frozen, tracked)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stderr[-2000:]
    assert gc.isenabled()
