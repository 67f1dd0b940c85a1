"""Episodes in memory and fixed-length windows sampled from them on device.

Episodes are concatenated into flat per-modality arrays (no per-episode padding), with T steps
of padding at the end so any window start can be gathered without bounds checks. A window that
runs past its episode's end (only possible for episodes shorter than T) marks those steps absent:
they are forced hidden and never scored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mtm_jax.errors import UserError
from mtm_jax.spec import RETURNS, DatasetSpec

Episode = Mapping[str, np.ndarray]  # modality -> [L, ...]; a missing modality is absent (heteromodal)


class WindowData(NamedTuple):
  """Device arrays from which windows are gathered."""

  flat: dict  # modality -> [S + T, ...]
  present: dict  # modality -> bool [S + T]
  steps_remaining: jax.Array  # int [S + T]: steps left in the episode, this one included
  starts: jax.Array  # int [W]: flat index of every window start

  @property
  def num_windows(self) -> int:
    return int(self.starts.shape[0])


def returns_to_go(rewards: np.ndarray, discount: float = 1.0) -> np.ndarray:
  """R_t = sum_{t' >= t} discount^(t'-t) r_t'."""
  rewards = np.asarray(rewards, np.float64).reshape(-1)
  out = np.zeros_like(rewards)
  running = 0.0
  for t in range(len(rewards) - 1, -1, -1):
    running = rewards[t] + discount * running
    out[t] = running
  return out.astype(np.float32)


def episode_length(episode: Episode) -> int:
  lengths = {len(v) for v in episode.values()}
  if len(lengths) != 1:
    raise ValueError(f"episode modalities have different lengths: { {k: len(v) for k, v in episode.items()} }")
  return lengths.pop()


def build(episodes: Sequence[Episode], spec: DatasetSpec, window: int, complete_share: float = 0.0) -> WindowData:
  """Flattens episodes into a WindowData; every episode yields max(L - T + 1, 1) windows.

  complete_share: where some episodes lack a modality (heteromodal data: state-only episodes), the windows of
  the complete ones are repeated among the starts until uniform draws take at least this share from them.
  Drawn in proportion to their steps, 1 % of labelled episodes would put about one window with actions in a
  batch of 128, and the actions would be learnt from a hundredth of the updates.
  """
  if not episodes:
    raise ValueError("no episodes to build windows from")
  lengths = np.array([episode_length(e) for e in episodes])
  total = int(lengths.sum())
  flat, present = {}, {}
  for m in spec:
    shape = (total + window,) + m.trailing_shape()
    flat[m.name] = np.zeros(shape, np.int32 if m.is_discrete else np.float32)
    present[m.name] = np.zeros(total + window, bool)
  steps_remaining = np.zeros(total + window, np.int32)
  starts, complete = [], []
  offset = 0
  for episode, length in zip(episodes, lengths):
    for m in spec:
      if m.name in episode:
        flat[m.name][offset : offset + length] = np.asarray(episode[m.name]).reshape((length,) + m.trailing_shape())
        present[m.name][offset : offset + length] = True
    steps_remaining[offset : offset + length] = np.arange(length, 0, -1)
    starts.append(offset + np.arange(max(length - window + 1, 1)))
    complete.append(all(m.name in episode for m in spec))
    offset += length
  starts = _repeat_complete(starts, complete, complete_share)
  return WindowData(
    flat={k: jnp.asarray(v) for k, v in flat.items()},
    present={k: jnp.asarray(v) for k, v in present.items()},
    steps_remaining=jnp.asarray(steps_remaining),
    starts=jnp.asarray(np.concatenate(starts).astype(np.int32)),
  )


def _repeat_complete(starts: list, complete: list, share: float) -> list:
  """``starts`` with the complete episodes' windows repeated to make up at least ``share`` of them."""
  whole = sum(len(s) for s, c in zip(starts, complete) if c)
  partial = sum(len(s) for s, c in zip(starts, complete) if not c)
  if not (whole and partial and share > 0):
    return starts
  times = max(1, int(np.ceil(share * partial / ((1 - share) * whole))))
  return [np.tile(s, times) if c else s for s, c in zip(starts, complete)]


def gather(data: WindowData, starts_B: jax.Array, window: int) -> dict:
  """A batch {"traj": modality -> [B,T,...] (+ steps_remaining), "present": modality -> bool [B,T]}."""
  idx_BxT = starts_B[:, None] + jnp.arange(window)[None]
  # A step belongs to the window's episode while the episode has steps left at the window start.
  in_episode_BxT = jnp.arange(window)[None] < data.steps_remaining[starts_B][:, None]
  traj = {k: v[idx_BxT] for k, v in data.flat.items()}
  traj["steps_remaining"] = data.steps_remaining[idx_BxT]
  present = {k: v[idx_BxT] & in_episode_BxT for k, v in data.present.items()}
  return {"traj": traj, "present": present}


def sample(data: WindowData, key: jax.Array, batch_size: int, window: int) -> dict:
  """Uniformly random windows, drawn on device."""
  choice_B = jax.random.randint(key, (batch_size,), 0, data.starts.shape[0])
  return gather(data, data.starts[choice_B], window)


def evenly_spaced(data: WindowData, count: int, window: int) -> dict:
  """A fixed, deterministic set of windows (validation): ``count`` starts spread over the data."""
  count = min(count, data.num_windows)
  picks = np.linspace(0, data.num_windows - 1, count).round().astype(np.int32)
  return gather(data, data.starts[picks], window)


def split_episodes(
  episodes: Sequence[Episode], validation_fraction: float, num_validation: int = 0, num_train: int = 0, train_steps: int = 0
):
  """Train/validation split by episode: the last episodes are validation (deterministic).

  ``num_train`` > 0 trains on only the first ``num_train`` of the remaining episodes (data-size studies).
  ``train_steps`` > 0 trains on only their first ``train_steps`` steps, the last episode kept in part: shares
  matched by transitions, where episodes of different lengths make a share of episodes another share of the
  data. A cut episode keeps the return tokens of the whole episode (computed before the split) and ends at the
  cut for its windows and their steps remaining (so a config refuses it beside ``model.max_horizon`` > 0).
  """
  n_val = num_validation or int(round(len(episodes) * validation_fraction))
  n_val = min(max(n_val, 1), len(episodes) - 1) if len(episodes) > 1 else 0
  if n_val == 0:
    raise UserError(f"need at least 2 episodes for a train/validation split, got {len(episodes)}")
  available = len(episodes) - n_val
  if num_train > available:
    raise UserError(f"data.num_train={num_train} but only {available} episodes precede the {n_val} validation ones")
  train = list(episodes[: num_train or available])
  if train_steps > 0:
    train = _first_steps(train, train_steps)
  return train, list(episodes[available:])


def _first_steps(episodes: Sequence[Episode], steps: int) -> list:
  """The first ``steps`` steps of ``episodes``, in order: whole episodes, then the part of the next one."""
  lengths = [episode_length(e) for e in episodes]
  if steps > sum(lengths):
    raise UserError(f"data.train_steps={steps} but the training episodes hold {sum(lengths)} steps: lower it, or 0 for all")
  out, left = [], steps
  for e, length in zip(episodes, lengths):
    if left == 0:
      break
    out.append(e if length <= left else {m: np.asarray(x)[:left] for m, x in e.items()})
    left -= min(length, left)
  return out


def real_steps(episodes: Sequence[Episode], spec: DatasetSpec) -> dict:
  """Concatenated real steps per modality (normalisation statistics never see padding)."""
  out = {}
  for m in spec:
    parts = [np.asarray(e[m.name]) for e in episodes if m.name in e]
    out[m.name] = np.concatenate(parts) if parts else np.zeros((0,) + m.trailing_shape())
  return out


def add_returns(episodes: Sequence[Episode], discount: float = 1.0) -> list[dict]:
  """Adds ``returns`` (return-to-go, [L, 1]) to every episode that has ``rewards``."""
  out = []
  for e in episodes:
    e = dict(e)
    if "rewards" in e:
      e[RETURNS] = returns_to_go(e["rewards"], discount)[:, None]
    out.append(e)
  return out
