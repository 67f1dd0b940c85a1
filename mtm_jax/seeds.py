"""Every environment-reset seed the project draws, by purpose, in disjoint blocks.

A reported episode must never replay a reset that made the data or chose a setting (a return target, a
checkpoint): each purpose owns one block of ``BLOCK`` seeds, so no run seed, episode count or step count can
carry one purpose's seeds into another's.

- ``data``: whatever makes a dataset: the generators' episodes and SAC's own training and evaluation
  episodes (``data_seed``; SAC's evaluations pick the expert snapshot, so they belong to the data).
- ``reported``: the episodes a report scores (model rollouts, the Maze2D study, TD3's learning curves).
- ``validation``: episodes that choose a setting, never reported.
"""

BLOCK = 10**12  # seeds per purpose: far above any run seed x DATA_STRIDE + episode index the project draws
DATA_STRIDE = 1_000_003  # a data generator's seeds per run seed (a prime, as the generators always used)
PURPOSES = ("data", "reported", "validation")


def data_seed(run_seed: int, index: int) -> int:
  """Reset ``index`` of the data a generator (or SAC) seeded ``run_seed`` makes: inside the data block."""
  seed = run_seed * DATA_STRIDE + index
  if not 0 <= seed < BLOCK:
    raise ValueError(f"data seed {run_seed} x {DATA_STRIDE} + {index} leaves the data block [0, {BLOCK})")
  return seed


def reset_seeds(purpose: str, count: int, start: int = 0) -> range:
  """``count`` reset seeds of ``purpose`` from its ``start``-th on (a learning curve passes its step)."""
  if purpose not in PURPOSES:
    raise ValueError(f"unknown seed purpose {purpose!r}; choose from {PURPOSES}")
  if not (0 <= start and start + count <= BLOCK):
    raise ValueError(f"seeds {start}..{start + count} of {purpose!r} leave its block of {BLOCK}")
  base = PURPOSES.index(purpose) * BLOCK
  return range(base + start, base + start + count)
