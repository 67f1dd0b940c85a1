"""Any Minari dataset as episodes of states, actions, rewards and returns-to-go."""

from __future__ import annotations

import functools
import os

import gymnasium as gym
import numpy as np

from mtm_jax.data.windows import add_returns
from mtm_jax.errors import UserError
from mtm_jax.spec import ACTIONS, CONTINUOUS, DISCRETE, RETURNS, STATES, DatasetSpec, ModalitySpec


def modality_spec(name: str, space: gym.Space) -> ModalitySpec:
  """Box and Dict spaces become continuous (flattened), Discrete spaces discrete."""
  if isinstance(space, gym.spaces.Discrete):
    return ModalitySpec(name, DISCRETE, num_classes=int(space.n))
  if isinstance(space, (gym.spaces.Box, gym.spaces.Dict)):
    return ModalitySpec(name, CONTINUOUS, dim=int(gym.spaces.flatdim(space)))
  raise UserError(f"{name}: Minari space {space} is not supported; use Box, Dict of Box, or Discrete")


def _flatten(space: gym.Space, values, length: int) -> np.ndarray:
  if isinstance(space, gym.spaces.Dict):
    parts = [_flatten(space[k], values[k], length) for k in space.spaces]
    return np.concatenate(parts, axis=-1)
  if isinstance(space, gym.spaces.Discrete):
    return np.asarray(values)[:length].astype(np.int32)
  return np.asarray(values, np.float32)[:length].reshape(length, -1)


def dataset_root() -> str:
  import minari.storage

  return str(minari.storage.get_dataset_path(""))


RETURN_KINDS = ("sum", "average")


def load(dataset_id: str, *, download: bool = False, include_rewards: bool = False, return_discount: float = 1.0,
         returns: str = "sum"):
  """Returns (spec, episodes, metadata) of a locally present (or, if asked, downloaded) dataset.

  returns: ``sum`` (return-to-go, discounted by return_discount) or ``average`` (MTM's D4RL recipe: the
  return-to-go divided by the steps left to the horizon, H - t, with H the environment's time limit, so an
  episode that ends early by termination averages over the steps it did not live).
  """
  if returns not in RETURN_KINDS:
    raise UserError(f"data.returns={returns!r}; choose from {RETURN_KINDS}")
  import minari

  try:
    dataset = minari.load_dataset(dataset_id, download=download)
  except FileNotFoundError as err:
    raise UserError(
        f"Minari dataset {dataset_id!r} is not on this machine (looked under "
        f"{os.environ.get('MINARI_DATASETS_PATH', dataset_root())}); set --config.data.download=True to "
        f"download it, or point MINARI_DATASETS_PATH at the folder that holds it"
    ) from err
  except Exception as err:  # hosting errors come in many types; all mean the download failed
    raise UserError(f"could not load Minari dataset {dataset_id!r}: {str(err).splitlines()[0][:200]}") from err
  return _read(dataset_id, _stamp(dataset.storage.data_path), include_rewards, return_discount, returns)


def _stamp(folder) -> int:
  """Newest modification time under a dataset's folder: a rewritten dataset is read again."""
  return max(os.stat(os.path.join(root, f)).st_mtime_ns for root, _, files in os.walk(folder) for f in files)


@functools.lru_cache(maxsize=4)
def _read(dataset_id, stamp, include_rewards, return_discount, returns):
  """Episodes of a dataset, read once per process and version (a study trains many models on one)."""
  import minari

  del stamp  # part of the cache key only
  dataset = minari.load_dataset(dataset_id)
  obs_space, act_space = dataset.observation_space, dataset.action_space
  episodes = []
  for ep in dataset.iterate_episodes():
    length = len(ep.rewards)
    episodes.append({
        # Minari stores L+1 observations (the final one too); the model sees the L that precede actions.
        STATES: _flatten(obs_space, ep.observations, length),
        ACTIONS: _flatten(act_space, ep.actions, length),
        "rewards": np.asarray(ep.rewards, np.float32)[:, None],
    })
  episodes = add_returns(episodes, return_discount)
  metadata = dict(dataset.storage.metadata)
  if returns == "average":
    horizon = horizon_of(dataset, episodes)
    episodes = [{**e, RETURNS: e[RETURNS] / (horizon - np.arange(len(e[RETURNS])))[:, None]} for e in episodes]
    metadata["returns_horizon"] = horizon
  modalities = [modality_spec(STATES, obs_space), modality_spec(ACTIONS, act_space), ModalitySpec(RETURNS, CONTINUOUS, 1)]
  if include_rewards:
    modalities.append(ModalitySpec("rewards", CONTINUOUS, 1))
  else:
    episodes = [{k: v for k, v in e.items() if k != "rewards"} for e in episodes]
  return DatasetSpec(tuple(modalities)), episodes, metadata


def horizon_of(dataset, episodes) -> int:
  """The environment's time limit where the dataset records it, else its longest episode."""
  longest = max(len(e["rewards"]) for e in episodes)
  env_spec = dataset.spec.env_spec
  limit = getattr(env_spec, "max_episode_steps", None) if env_spec is not None else None
  return max(int(limit or 0), longest)
