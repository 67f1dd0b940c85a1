"""Noisy-rational gridworld data, generated on the JAX twin and written as a Minari dataset."""

from __future__ import annotations

import jax
import numpy as np

from mtm_jax.data import writer
from mtm_jax.envs.gridworld import ENV_ID, agent
from mtm_jax.errors import UserError

DATASET_ID = "mtm_jax/keydoor-boltzmann-v0"


def generate(num_episodes: int, beta: float = 1.0, seed: int = 0) -> dict:
  """Episodes of the Boltzmann agent: observations [N, 11], actions [N, 10], rewards [N, 10]."""
  keys = jax.random.split(jax.random.key(seed), num_episodes)
  episodes = jax.jit(jax.vmap(lambda k: agent.rollout(k, beta)))(keys)
  return {k: np.asarray(v) for k, v in episodes.items()}


def write(dataset_id: str = DATASET_ID, num_episodes: int = 2000, beta: float = 1.0, seed: int = 0):
  """Writes (replacing any dataset of that id) a Minari dataset; returns the MinariDataset."""
  from minari.data_collector import EpisodeBuffer

  if num_episodes < 2:
    raise UserError(f"num_episodes={num_episodes}: a dataset needs at least 2 episodes (train and validation)")
  if not beta >= 0:
    raise UserError(f"beta={beta} must be >= 0 (0 is a uniformly random agent)")
  episodes = generate(num_episodes, beta, seed)
  steps = episodes["actions"].shape[1]
  buffers = [
    EpisodeBuffer(
      id=i,
      observations=episodes["observations"][i].astype(np.int64),
      actions=episodes["actions"][i].astype(np.int64),
      rewards=episodes["rewards"][i].astype(np.float64).tolist(),
      terminations=[False] * steps,
      truncations=[False] * (steps - 1) + [True],
    )
    for i in range(num_episodes)
  ]
  flags = f" --num_episodes={num_episodes} --beta={beta} --seed={seed}"
  return writer.write(
    dataset_id,
    buffers,
    env=ENV_ID,
    algorithm="boltzmann-noisy-rational",
    code_path="mtm_jax/envs/gridworld/dataset.py",
    description=f"Key-door gridworld, Boltzmann noisy-rational agent (beta={beta}, seed={seed}), {steps}-step episodes.",
    generator={"agent": "boltzmann", "beta": beta, "seed": seed, "episodes": num_episodes},
    command="python -m experiments.make_dataset gridworld"
    + flags
    + ("" if dataset_id == DATASET_ID else f" --dataset_id={dataset_id}"),
  )
