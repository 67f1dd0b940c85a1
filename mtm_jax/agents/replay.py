"""A fixed-capacity replay buffer held on device, filled E transitions at a time (one per environment).

Row ``step * E + env`` holds environment ``env``'s transition at collection step ``step``, so each
environment's episodes can be read back in order (``episodes``), e.g. to write the buffer as a dataset.
Actions are stored in the agent's [-1, 1] units.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Replay(NamedTuple):
  obs: jax.Array  # [C, ds]
  actions: jax.Array  # [C, da]
  rewards: jax.Array  # [C]
  next_obs: jax.Array  # [C, ds]: the step's true next observation (the final one at an episode end)
  terminated: jax.Array  # bool [C]: no bootstrapping past this step
  truncated: jax.Array  # bool [C]: the episode ended here without termination (time limit, or a restart)
  size: jax.Array  # int []: rows written

  @property
  def capacity(self) -> int:
    return int(self.rewards.shape[0])


def init(capacity: int, obs_dim: int, action_dim: int) -> Replay:
  z = lambda *shape, dtype=jnp.float32: jnp.zeros(shape, dtype)  # noqa: E731
  return Replay(
    z(capacity, obs_dim),
    z(capacity, action_dim),
    z(capacity),
    z(capacity, obs_dim),
    z(capacity, dtype=bool),
    z(capacity, dtype=bool),
    jnp.zeros((), jnp.int32),
  )


def add(replay: Replay, obs, actions, rewards, next_obs, terminated, truncated) -> Replay:
  """Appends E rows; the capacity must hold every transition of the run (a full buffer is a user error)."""
  cursor = replay.size
  put = lambda buf, rows: jax.lax.dynamic_update_slice_in_dim(buf, jnp.asarray(rows, buf.dtype), cursor, axis=0)  # noqa: E731
  return Replay(
    put(replay.obs, obs),
    put(replay.actions, actions),
    put(replay.rewards, rewards),
    put(replay.next_obs, next_obs),
    put(replay.terminated, terminated),
    put(replay.truncated, truncated),
    cursor + jnp.shape(rewards)[0],
  )


def sample(replay: Replay, key: jax.Array, batch_size: int) -> dict:
  """Uniform over the rows written so far."""
  idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(replay.size, 1))
  return {
    "obs": replay.obs[idx],
    "actions": replay.actions[idx],
    "rewards": replay.rewards[idx],
    "next_obs": replay.next_obs[idx],
    "terminated": replay.terminated[idx],
  }


def scan_updates(update, state, replay: Replay, key: jax.Array, num_updates: int, batch_size: int):
  """``num_updates`` calls of ``update(state, batch, key) -> (state, metrics)`` fused in one scan, each on a fresh
  batch from the replay; the metrics are the last update's."""

  def one(state, key):
    batch_key, update_key = jax.random.split(key)
    return update(state, sample(replay, batch_key, batch_size), update_key)

  state, metrics = jax.lax.scan(one, state, jax.random.split(key, num_updates))
  return state, jax.tree_util.tree_map(lambda m: m[-1], metrics)


def from_episodes(episodes) -> Replay:
  """A full replay of an offline dataset's transitions: episodes of observations [L+1, ds], actions [L, da]
  (in the agent's [-1, 1] units), rewards [L], terminations [L] (Minari's layout)."""
  obs = np.concatenate([e["observations"][:-1] for e in episodes])
  next_obs = np.concatenate([e["observations"][1:] for e in episodes])
  actions = np.concatenate([e["actions"] for e in episodes])
  rewards = np.concatenate([np.asarray(e["rewards"]).reshape(-1) for e in episodes])
  terminated = np.concatenate([np.asarray(e["terminations"], bool) for e in episodes])
  ends = np.concatenate([np.arange(len(e["actions"])) == len(e["actions"]) - 1 for e in episodes])
  f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
  return Replay(
    f(obs),
    f(actions),
    f(rewards),
    f(next_obs),
    jnp.asarray(terminated),
    jnp.asarray(ends & ~terminated),
    jnp.asarray(len(rewards), jnp.int32),
  )


def mark_truncated(replay: Replay, num_envs: int) -> Replay:
  """Ends every environment's open episode at its last written row (a resumed run restarts its episodes)."""
  rows = jnp.arange(replay.capacity)
  last = (rows < replay.size) & (rows >= replay.size - num_envs)
  return replay._replace(truncated=replay.truncated | (last & ~replay.terminated))


def episodes(replay: Replay, num_envs: int, rows: int | None = None) -> list[dict]:
  """The complete episodes among the first ``rows`` rows, per environment in order, as numpy dicts:
  observations [L+1, ds], actions [L, da], rewards [L], terminations [L], truncations [L].

  An episode still open at ``rows`` is cut there and marked truncated.
  """
  host = jax.device_get(replay)
  rows = int(host.size) if rows is None else min(int(rows), int(host.size))
  out = []
  for env in range(num_envs):
    idx = np.arange(env, rows, num_envs)
    if not len(idx):
      continue
    ends = host.terminated[idx] | host.truncated[idx]
    ends[-1] = True
    start = 0
    for stop in np.flatnonzero(ends) + 1:
      part = idx[start:stop]
      truncations = host.truncated[part].copy()
      truncations[-1] = not host.terminated[part[-1]]
      out.append(
        {
          "observations": np.concatenate([host.obs[part], host.next_obs[part[-1:]]]),
          "actions": host.actions[part],
          "rewards": host.rewards[part],
          "terminations": host.terminated[part],
          "truncations": truncations,
        }
      )
      start = stop
  return out
