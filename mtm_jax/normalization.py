"""Per-modality normalisation: statistics from real steps only, applied inside predict."""

from __future__ import annotations

from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from mtm_jax.spec import DatasetSpec

MIN_STD = 1e-6  # a constant feature keeps std 1 rather than dividing by zero


def compute_stats(values: Mapping[str, np.ndarray], spec: DatasetSpec, unscaled_below_std: float = 0.0) -> dict:
  """Mean and std of every continuous modality; ``values[m]`` holds real steps only, ``[N, d]``.

  A feature whose std is below ``unscaled_below_std`` is centred but not scaled (std 1), as the reference
  MTM's tokenizer does below 0.1; a constant feature is never scaled.
  """
  stats = {}
  for m in spec:
    if m.is_discrete:
      continue
    x = np.asarray(values[m.name], np.float64).reshape(-1, m.dim)
    if len(x) == 0:
      raise ValueError(f"no real steps for modality {m.name!r}: cannot compute normalisation statistics")
    std = x.std(0)
    stats[m.name] = {
      "mean": x.mean(0).astype(np.float32),
      "std": np.where(std < max(MIN_STD, unscaled_below_std), 1.0, std).astype(np.float32),
    }
  return stats


def identity_stats(spec: DatasetSpec) -> dict:
  return {m.name: {"mean": np.zeros(m.dim, np.float32), "std": np.ones(m.dim, np.float32)} for m in spec if not m.is_discrete}


def _lift(stat, x):
  """A [d] statistic shaped to broadcast against x [..., d] without rank promotion."""
  return jnp.reshape(stat, (1,) * (x.ndim - 1) + (-1,))


def normalize(traj: Mapping, stats: Mapping) -> dict:
  return {k: (v - _lift(stats[k]["mean"], v)) / _lift(stats[k]["std"], v) if k in stats else v for k, v in traj.items()}


def denormalize(outputs: Mapping, stats: Mapping) -> dict:
  return {k: v * _lift(stats[k]["std"], v) + _lift(stats[k]["mean"], v) if k in stats else v for k, v in outputs.items()}


def as_jnp(stats: Mapping) -> dict:
  return {k: {s: jnp.asarray(a) for s, a in v.items()} for k, v in stats.items()}
