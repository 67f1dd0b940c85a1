"""MTM's toy dataset: noisy sinusoids, bimodal in their second half, states only."""

from __future__ import annotations

import numpy as np

from mtm_jax.spec import CONTINUOUS, STATES, DatasetSpec, ModalitySpec

SPEC = DatasetSpec((ModalitySpec(STATES, CONTINUOUS, 1),))


def generate(num_episodes: int, length: int, noise: float = 0.03, seed: int = 0) -> list[dict]:
  """Sinusoids with phase 0 or pi whose second half is flipped in half of the episodes."""
  rng = np.random.default_rng(seed)
  phase = np.where(rng.random((num_episodes, 1)) > 0.5, 0.0, np.pi)
  freq = np.ones((num_episodes, length))
  flip = rng.random((num_episodes, 1)) > 0.5
  freq[:, length // 2 :] = np.where(flip, 1.0, -1.0)
  t = np.linspace(0, 2 * np.pi, length)[None]
  states = np.clip(np.sin(freq * t + phase) + noise * rng.standard_normal((num_episodes, length)), -1, 1)
  return [{STATES: s[:, None].astype(np.float32)} for s in states]
