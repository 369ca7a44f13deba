# Every target that runs code first runs the idempotent set-up (apt packages, .venv, pip install).
SHELL := /bin/bash
PY := .venv/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.physworld/dagster_home
export PHYSWORLD_LAKE ?= $(CURDIR)/.physworld/lake
export PHYSWORLD_ENV ?= local

.PHONY: setup demo test bench ui lint

ALL_FAMILIES := bin,push,stack,lid,shoe,pan,book,upright,pour,sweep

setup:
	@bash infra/setup.sh

demo: setup
	@mkdir -p $(DAGSTER_HOME) && cp infra/dagster.local.yaml $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m pipelines.demo $(DEMO_ARGS)

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench.env_steps
	$(PY) -m bench.oracles --seeds 0-19
	$(PY) -m bench.bin_family --seeds $(or $(BENCH_SEEDS),20-39) --env-steps $(or $(BENCH_ENV_STEPS),0)
	$(PY) -m bench.video_samples --seeds 40-59 --trials 3
	$(PY) -m bench.residual_vs_scratch --seeds 20-22
	$(PY) -m bench.export --episodes 100
	$(PY) -m bench.coverage --families $(ALL_FAMILIES) --seeds 60-64 --trials 5
	$(PY) -m bench.methods_table --families $(ALL_FAMILIES) --seeds 60-61 --env-steps 8192
	$(PY) -m bench.methods_table --families $(ALL_FAMILIES) --seeds 60-61 --env-steps 8192 --sensor realistic --out bench/out/methods_table_realistic.md
	$(PY) -m bench.methods_table --families bin,push --seeds 60-62 --env-steps 8192 --scratch --oracle
	$(PY) -m bench.fidelity --seeds $(or $(BENCH_SEEDS),0-19) --families $(ALL_FAMILIES)
	$(PY) -m bench.depth_calibration
	$(PY) -m bench.stock_adapter --env PushCube-v1 --seeds 0-2 --trials 10
	$(PY) -m bench.stock_adapter --env PullCube-v1 --prompt "pull the cube onto the red and white target" --seeds 0-1
	$(PY) -m bench.stock_adapter --survey
	$(PY) -m bench.paraphrases --set held-out
	$(PY) -m bench.open_world --seeds 1000-1009 --env-steps 8192 --trials 10
	$(PY) -m bench.throughput --tasks 8 --families bin,push --concurrency 1,2
	$(PY) -m bench.faults
	$(PY) -m bench.real_captures
	$(PY) -m bench.open3d_geometry
	$(PY) -m bench.world_model all

ui: setup
	@mkdir -p $(DAGSTER_HOME) && cp infra/dagster.local.yaml $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m pipelines.ui

lint: setup
	$(PY) -m ruff check physworld_core assets pipelines tests
