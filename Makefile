# The two commands: `make demo` (the gridworld study at the small scale) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.jax_cache

.PHONY: demo sinusoid locomotion-small locomotion-small-a locomotion-small-b test lint clean

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

# The locomotion studies at the small scale. The heteromodal and representation studies (done: from their caches
# they write their reports again), then the rest in two streams side by side, each a process on one core: at the
# small scale's width 64 a second core speeds one train step by only 7-15 % (benchmarks.train_throughput --width 64
# --batch 128: 2,134 samples/s on one core, 2,284-2,456 on two), while two single-threaded processes run at 1,888 +
# 1,980. The unanswered questions first in each:
#   a: the MTM study's data efficiency on Hopper expert (about 10.5 h), the rest of the MTM study (10 h: Hopper
#      medium-replay versatility; the HalfCheetah and Walker2d data, curves and offline RL on medium), then
#      offline RL on Walker2d's medium-replay and medium-expert (about 7 h);
#   b: offline RL and planning on Hopper's three levels (7 h: medium is one narrow behaviour, where RCBC cannot
#      rise far above its data), the heteromodal MTMs at 12,000 steps, where the one model stands on Hopper expert
#      (about 10 h), then offline RL on HalfCheetah's medium-replay and medium-expert (about 7 h);
# those hours at the earlier two-core speed. Last, the offline-RL report of all nine datasets, from the cache.
# Each resumes where it stopped (rerun the target after a kill), and a fresh machine resumes from the three
# studies' committed caches once copied into runs/ (results/mtm_small_study/README.md).
ONE_CORE = XLA_FLAGS=--xla_cpu_multi_thread_eigen=false OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
MTM_SMALL = $(PY) -m experiments.reproduce_mtm --scale small --out runs/mtm_small
OFFLINE_RL = --levels medium,medium-replay,medium-expert --parts offline_rl,planning

locomotion-small: $(VENV)/.installed
	$(PY) -m experiments.reproduce_heteromodal --scale small --out runs/heteromodal_small
	$(PY) -m experiments.reproduce_representation --scale small --out runs/representation_small
	$(MAKE) -k -j2 locomotion-small-a locomotion-small-b
	$(MTM_SMALL) $(OFFLINE_RL)

locomotion-small-a: $(VENV)/.installed
	$(ONE_CORE) $(MTM_SMALL) --envs hopper --parts efficiency
	$(ONE_CORE) $(MTM_SMALL)
	$(ONE_CORE) $(MTM_SMALL) --envs walker2d --levels medium-replay,medium-expert --parts offline_rl,planning

locomotion-small-b: $(VENV)/.installed
	$(ONE_CORE) $(MTM_SMALL) --envs hopper $(OFFLINE_RL)
	$(ONE_CORE) $(PY) -m experiments.reproduce_heteromodal --scale small --mtm_budget 4 --out runs/heteromodal_small
	$(ONE_CORE) $(MTM_SMALL) --envs halfcheetah --levels medium-replay,medium-expert --parts offline_rl,planning

test: $(VENV)/.installed
	$(PY) -m pytest -n 2 --durations=10 tests

lint: $(VENV)/.installed
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

clean:
	rm -rf runs .jax_cache
