"""The task sources that render a simulated world: ``benchmark:<family>:<seed>`` (a procedural benchmark world)
and ``maniskill:<env id>:<seed>[:<W>x<H>[:<camera>]]`` (a stock ManiSkill env). Registered with the scene
layer's source registry (:mod:`physworld_core.sources`), which loads this module by name: the one door from a
world into the pipeline, through which only its first RGB-D frame, camera and prompt pass."""

from __future__ import annotations

from physworld_core.errors import SceneError
from physworld_core.evaluation.stock import StockTask
from physworld_core.evaluation.worlds import BenchmarkTask
from physworld_core.sources import TaskSource, register_source
from physworld_core.world import get_family


@register_source
class BenchmarkSource(TaskSource):
    kind = "benchmark"
    form = "benchmark:<family>:<seed>[:<sensor>]"
    has_world = True

    def describe(self, source: str, prompt: str | None, task_id: str) -> tuple[str, str | None, int | None]:
        bench = BenchmarkTask.parse(source)
        if prompt is None:
            family = get_family(bench.family)
            prompt = family.prompt_for(family.sample_layout(bench.seed), None)
        return prompt, bench.family, bench.seed

    def capture(self, store, task_id: str, source: str, prompt: str, limits):
        return BenchmarkTask.parse(source).capture(task_id=task_id, prompt=prompt)

    def world(self, source: str) -> BenchmarkTask:
        return BenchmarkTask.parse(source)


@register_source
class ManiSkillSource(TaskSource):
    kind = "maniskill"
    form = "maniskill:<env id>:<seed>[:<W>x<H>[:<camera>]]"
    has_world = True

    def describe(self, source: str, prompt: str | None, task_id: str) -> tuple[str, str | None, int | None]:
        try:
            stock = StockTask.parse(source)
        except ValueError as error:
            raise SceneError(f"task {task_id}: {error}") from error
        if prompt is None:
            raise SceneError(f"task {task_id}: a ManiSkill env has no prompt of its own; give --prompt")
        return prompt, stock.family, stock.seed

    def capture(self, store, task_id: str, source: str, prompt: str, limits):
        return StockTask.parse(source).capture(task_id=task_id, prompt=prompt)

    def world(self, source: str) -> StockTask:
        return StockTask.parse(source)
