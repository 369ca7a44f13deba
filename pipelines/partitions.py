"""One dynamic partition per task: added when a task is registered (CLI, demo, or later the inbox sensor)."""

import dagster as dg

tasks_partitions = dg.DynamicPartitionsDefinition(name="tasks")
