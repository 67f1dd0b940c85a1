"""D4RL's normalised score, 100 (R - ref_min) / (ref_max - ref_min), with references from a dataset's metadata.

Minari's own ``get_normalized_score`` is on a 0-1 scale; this is D4RL's x100. Minari's published
``mujoco/<env>/<level>-v0`` sets carry their own references (SB3 policies on the v5 environments), so
their scores do not compare one-to-one with D4RL's or with ours (``mtm_jax/<env>/<level>-v0``).
"""

from __future__ import annotations

import numpy as np

from mtm_jax.errors import UserError


def d4rl_score(returns, ref_min: float, ref_max: float) -> np.ndarray:
  if ref_max == ref_min:
    raise UserError(f"reference scores are equal ({ref_min}); a normalised score needs ref_max != ref_min")
  return 100.0 * (np.asarray(returns, np.float64) - ref_min) / (ref_max - ref_min)


def references(metadata: dict, dataset_id: str = "the dataset") -> tuple[float, float]:
  """(ref_min_score, ref_max_score) of a Minari dataset's metadata."""
  low, high = metadata.get("ref_min_score"), metadata.get("ref_max_score")
  if low is None or high is None:
    raise UserError(
      f"{dataset_id} has no ref_min_score / ref_max_score in its metadata, so it has no normalised "
      "score; report raw returns, or use a dataset made by experiments/make_dataset.py locomotion"
    )
  return float(low), float(high)


def mean_se(values) -> tuple[float, float]:
  """Mean and standard error (0 for a single value)."""
  values = np.asarray(values, np.float64)
  se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
  return float(values.mean()), float(se)
