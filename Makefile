# The two commands: `make demo` (the gridworld study at the small scale) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.jax_cache

.PHONY: demo sinusoid test lint clean

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

test: $(VENV)/.installed
	$(PY) -m pytest -n 2 --durations=10 tests

lint: $(VENV)/.installed
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

clean:
	rm -rf runs .jax_cache
