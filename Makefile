# The two commands: `make demo` (the gridworld study at the small scale) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.jax_cache

.PHONY: demo sinusoid locomotion-small test lint clean

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m experiments.reproduce_gridworld --scale small --out runs/gridworld_small

sinusoid: $(VENV)/.installed
	$(PY) -m experiments.train --config configs/sinusoid.py --workdir runs/sinusoid
	$(PY) -m experiments.evaluate --workdir runs/sinusoid

# The locomotion studies at the small scale, one after another, the questions no run has answered yet first:
# heteromodal (5 h) and representation (2.5 h); then the MTM study's data efficiency on Hopper expert (10.5 h),
# offline RL and planning on Hopper's three levels (7 h: medium is one narrow behaviour, where RCBC cannot rise
# far above its data), the rest of the study (10 h: Hopper medium-replay versatility, the HalfCheetah and Walker2d
# data, curves and offline RL on medium), the heteromodal MTMs at 12,000 steps, where the one model stands on
# Hopper expert (about 10 h), and offline RL on HalfCheetah's and Walker2d's other two levels (about 14 h).
# About 60 h of a 2-core CPU in all. Each resumes where it stopped (rerun the target after a kill), and a fresh
# machine resumes from the three studies' committed caches once copied into runs/ (results/mtm_small_study/README.md).
locomotion-small: $(VENV)/.installed
	$(PY) -m experiments.reproduce_heteromodal --scale small --out runs/heteromodal_small
	$(PY) -m experiments.reproduce_representation --scale small --out runs/representation_small
	$(PY) -m experiments.reproduce_mtm --scale small --envs hopper --parts efficiency --out runs/mtm_small
	$(PY) -m experiments.reproduce_mtm --scale small --envs hopper --levels medium,medium-replay,medium-expert \
		--parts offline_rl,planning --out runs/mtm_small
	$(PY) -m experiments.reproduce_mtm --scale small --out runs/mtm_small
	$(PY) -m experiments.reproduce_heteromodal --scale small --mtm_budget 4 --out runs/heteromodal_small
	$(PY) -m experiments.reproduce_mtm --scale small --levels medium,medium-replay,medium-expert \
		--parts offline_rl,planning --out runs/mtm_small

test: $(VENV)/.installed
	$(PY) -m pytest -n 2 --durations=10 tests

lint: $(VENV)/.installed
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

clean:
	rm -rf runs .jax_cache
