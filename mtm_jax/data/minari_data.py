"""Any Minari dataset as episodes of states, actions, rewards and returns-to-go."""

from __future__ import annotations

import contextlib
import functools
import logging as std_logging
import os
import socket

import gymnasium as gym
import numpy as np
from absl import logging

from mtm_jax.data import writer
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
  array = np.asarray(values, np.float32)[:length]
  if array.shape[1:] != space.shape:  # Minari does not check what it stores against the space
    raise ValueError(f"values of shape {array.shape[1:]} in a space of shape {space.shape}")
  return array.reshape(length, -1)


RETURN_KINDS = ("sum", "average")
ON_NONFINITE = ("error", "drop_episode")


def load(
  dataset_id: str,
  *,
  download: bool = False,
  include_rewards: bool = False,
  return_discount: float = 1.0,
  returns: str = "sum",
  on_nonfinite: str = "error",
):
  """Returns (spec, episodes, metadata) of a locally present (or, if asked, downloaded) dataset.

  returns: ``sum`` (return-to-go, discounted by return_discount) or ``average`` (MTM's D4RL recipe: the
  return-to-go divided by the steps left to the horizon, H - t, with H the environment's time limit, so an
  episode that ends early by termination averages over the steps it did not live).

  An episode whose actions are all NaN has none (a heteromodal dataset's state-only episode): its actions
  are absent, never visible and never a target in training.

  Every episode is checked as it is read: a NaN or Inf in any modality, an action outside the action
  space's bounds, an empty episode or an observation of the wrong shape is a one-line UserError naming
  the dataset, modality, episode and step. on_nonfinite="drop_episode" drops the episodes with NaN/Inf
  instead and logs how many.
  """
  if returns not in RETURN_KINDS:
    raise UserError(f"data.returns={returns!r}; choose from {RETURN_KINDS}")
  if on_nonfinite not in ON_NONFINITE:
    raise UserError(f"data.on_nonfinite={on_nonfinite!r}; choose from {ON_NONFINITE}")
  import minari

  writer.recover(dataset_id)  # a writer killed while swapping datasets leaves the old one aside; put it back
  if download and not writer.dataset_folder(dataset_id).exists():
    _check_reachable(dataset_id)
  try:
    with _quiet("huggingface_hub"):  # it logs every retry of a failed request
      dataset = minari.load_dataset(dataset_id, download=download)
  except FileNotFoundError as err:
    raise UserError(
      f"Minari dataset {dataset_id!r} is not on this machine (looked under "
      f"{writer.dataset_folder('')}); set --config.data.download=True to "
      f"download it, or point MINARI_DATASETS_PATH at the folder that holds it"
    ) from err
  except Exception as err:  # hosting errors come in many types; all mean the download failed
    if writer.dataset_folder(dataset_id).exists():
      raise _unreadable(dataset_id, err) from err
    raise UserError(f"could not load Minari dataset {dataset_id!r}: {_first_line(err)}") from err
  try:
    return _read(dataset_id, _stamp(dataset.storage.data_path), include_rewards, return_discount, returns, on_nonfinite)
  except (OSError, KeyError, RuntimeError) as err:  # h5py's errors for a damaged file
    raise _unreadable(dataset_id, err) from err


REMOTE_HOSTS = {"hf": "huggingface.co", "gcp": "storage.googleapis.com"}  # Minari's remotes (MINARI_REMOTE)


def _check_reachable(dataset_id: str) -> None:
  """One line, in seconds, when the download's server cannot be reached (huggingface_hub retries for a minute)."""
  from minari.storage.remotes import DEFAULT_REMOTE

  remote = os.environ.get("MINARI_REMOTE", DEFAULT_REMOTE)
  host = REMOTE_HOSTS.get(remote.split("://")[0])
  if host is None:
    return
  try:
    socket.create_connection((host, 443), timeout=10).close()
  except OSError as err:
    raise UserError(
      f"cannot download Minari dataset {dataset_id!r}: {host} is unreachable ({err}); connect this "
      "machine to the internet, or copy the dataset here and point MINARI_DATASETS_PATH at it"
    ) from err


@contextlib.contextmanager
def _quiet(logger: str):
  log = std_logging.getLogger(logger)
  level = log.level
  log.setLevel(std_logging.ERROR)
  try:
    yield
  finally:
    log.setLevel(level)


def _first_line(err: Exception) -> str:
  return (str(err).splitlines() or [type(err).__name__])[0][:200]


def _unreadable(dataset_id: str, err: Exception) -> UserError:
  """One line for a dataset whose files are on disk but do not read, with the way to make it again."""
  folder = writer.dataset_folder(dataset_id)
  record = writer.provenance(dataset_id)
  fix = (
    f"make it again with `{record['command']}`"
    if record and "command" in record
    else f"delete {folder} and load it with --config.data.download=True to download it again"
  )
  return UserError(f"Minari dataset {dataset_id!r} at {folder} cannot be read ({_first_line(err)}); {fix}")


def _stamp(folder) -> int:
  """Newest modification time under a dataset's folder: a rewritten dataset is read again."""
  return max(os.stat(os.path.join(root, f)).st_mtime_ns for root, _, files in os.walk(folder) for f in files)


@functools.lru_cache(maxsize=4)
def _read(dataset_id, stamp, include_rewards, return_discount, returns, on_nonfinite):
  """Episodes of a dataset, read once per process and version (a study trains many models on one)."""
  import minari

  del stamp  # part of the cache key only
  dataset = minari.load_dataset(dataset_id)
  obs_space, act_space = dataset.observation_space, dataset.action_space
  episodes, dropped = [], 0
  for index, ep in enumerate(dataset.iterate_episodes()):
    where = f"Minari dataset {dataset_id!r}, episode {index}"
    length = len(ep.rewards)
    if length == 0:
      raise UserError(f"{where} has no steps; remove it from the dataset")
    try:
      episode = {
        # Minari stores L+1 observations (the final one too); the model sees the L that precede actions.
        STATES: _flatten(obs_space, ep.observations, length),
        ACTIONS: _flatten(act_space, ep.actions, length),
        "rewards": np.asarray(ep.rewards, np.float32)[:, None],
      }
    except (ValueError, KeyError, IndexError) as err:
      raise UserError(f"{where}: observations or actions do not fit the dataset's spaces ({str(err)[:150]})") from err
    if _unlabelled(episode[ACTIONS]):  # a heteromodal dataset's state-only episode: its actions are absent
      del episode[ACTIONS]
    bad = _nonfinite(episode)
    if bad and on_nonfinite == "drop_episode":
      dropped += 1
      continue
    if bad:
      raise UserError(
        f"{where}: {bad[0]} is {bad[1]} at step {bad[2]}; fix the data, or set "
        "--config.data.on_nonfinite=drop_episode to train without such episodes"
      )
    if ACTIONS in episode:
      _check_bounds(where, act_space, episode[ACTIONS])
    episodes.append(episode)
  if dropped:
    logging.warning(
      "%s: dropped %d of %d episodes with NaN/Inf values (data.on_nonfinite=drop_episode)",
      dataset_id,
      dropped,
      dropped + len(episodes),
    )
  if not episodes:
    raise UserError(f"Minari dataset {dataset_id!r}: no episodes left to train on")
  if not any(ACTIONS in e for e in episodes):
    raise UserError(
      f"Minari dataset {dataset_id!r}: every episode's actions are NaN (unlabelled); at least one episode needs actions"
    )
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


def _unlabelled(actions: np.ndarray) -> bool:
  """Whether an episode's actions are all NaN: how a Minari dataset (which needs an action at every step)
  marks an episode recorded without them."""
  return np.issubdtype(actions.dtype, np.floating) and bool(np.all(np.isnan(actions)))


def _nonfinite(episode: dict):
  """(modality, value, step) of the first NaN/Inf in an episode, or None."""
  for name in (n for n in (STATES, ACTIONS, "rewards") if n in episode):
    flat = episode[name].reshape(len(episode[name]), -1)
    bad = ~np.isfinite(flat) if np.issubdtype(flat.dtype, np.floating) else np.zeros(flat.shape, bool)
    if bad.any():
      step, dim = np.argwhere(bad)[0]
      return name, flat[step, dim], int(step)
  return None


def _check_bounds(where: str, space: gym.Space, actions: np.ndarray) -> None:
  """Box actions must lie in the space's bounds (a little slack for float32 rounding)."""
  if not isinstance(space, gym.spaces.Box):
    return
  low, high = space.low.reshape(-1), space.high.reshape(-1)
  slack = 1e-5 * np.maximum(1.0, np.abs(np.concatenate([low, high])).max(initial=1.0))
  outside = (actions < low - slack) | (actions > high + slack)
  if outside.any():
    step, dim = (int(i) for i in np.argwhere(outside)[0])
    raise UserError(
      f"{where}: actions[{dim}] = {actions[step, dim]:.4g} at step {step} is outside the action space "
      f"[{low[dim]:.4g}, {high[dim]:.4g}]; clip or fix the data"
    )


def horizon_of(dataset, episodes) -> int:
  """The environment's time limit where the dataset records it, else its longest episode."""
  longest = max(len(e["rewards"]) for e in episodes)
  env_spec = dataset.spec.env_spec
  limit = getattr(env_spec, "max_episode_steps", None) if env_spec is not None else None
  return max(int(limit or 0), longest)
