"""Maze2D rollouts: many MuJoCo environments stepped together, the model called once per step for
all of them through a jitted ``act`` with static shapes over a sliding window of the last K steps.

Return conditioning follows the ``first`` policy: the window's first return-to-go (the episode's
target minus the reward received before the window) is visible, with the steps remaining beside it.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from mtm_jax.envs.pointmaze import ENV_ID
from mtm_jax.envs.pointmaze.env import EPISODE_STEPS
from mtm_jax.spec import ACTIONS, RETURNS, STATES

ROLLOUT_TASKS = ("bc", "rcbc")


def make_act(predict: Callable, window: int, task: str, past_actions: bool = True) -> Callable:
  """A jitted ``act(params, states [E,K,4], actions [E,K,2], position, rtg [E], steps_left [E]) -> [E,2]``.

  ``position`` (traced) is the current step's slot in the window: t while t < K, then K-1.
  past_actions=False hides the window's earlier actions, for a model trained on that mask.
  """
  if task not in ROLLOUT_TASKS:
    raise ValueError(f"maze rollouts do {ROLLOUT_TASKS}, got {task!r}")

  @jax.jit
  def act(params, states, actions, position, rtg, steps_left):
    E, K = states.shape[:2]
    slots = jnp.arange(K)
    mask = {
        STATES: jnp.broadcast_to(slots <= position, (E, K)),
        ACTIONS: jnp.broadcast_to((slots < position) & past_actions, (E, K)),
        RETURNS: jnp.broadcast_to((slots == 0) & (task == "rcbc"), (E, K)),
    }
    traj = {
        STATES: states,
        ACTIONS: actions,
        RETURNS: jnp.zeros((E, K, 1), jnp.float32).at[:, 0, 0].set(rtg),
        "steps_remaining": jnp.broadcast_to(steps_left[:, None] - slots[None], (E, K)),
    }
    out = predict(params, traj, mask)[ACTIONS]
    return jnp.clip(jnp.take_along_axis(out, jnp.broadcast_to(position, (E, 1, 1)), axis=1)[:, 0], -1.0, 1.0)

  return act


def past_actions_seen(config, task: str) -> bool:
  """Whether a model trained under ``config`` saw past actions on ``task`` (the masks' default, True)."""
  params = config.masks.task_params
  return bool(params[task].get("past_actions", True)) if task in params else True


def fresh_starts(seeds) -> list[dict]:
  """The starts ``{"position", "velocity", "target"}`` of fresh resets with these seeds, for ``rollout``."""
  env = gym.make(ENV_ID)
  starts = []
  for seed in seeds:
    obs, info = env.reset(seed=int(seed))
    starts.append({"position": obs[:2], "velocity": info["velocity"], "target": obs[2:]})
  return starts


def make_envs(count: int) -> list[gym.Env]:
  """Environments for ``rollout``; build them once and reuse them across models."""
  return [gym.make(ENV_ID) for _ in range(count)]


def rollout(act: Callable, params, window: int, envs: list[gym.Env], starts: list[dict], targets=None, seed: int = 0) -> dict:
  """Runs one episode per start (``{"position", "velocity", "target"}``) in lock-step, one env each.

  targets: per-episode target returns (rcbc), decremented by the reward received. Returns
  {"returns" [E], "positions" [E, L+1, 2], "success" [E]}.
  """
  E, K = len(starts), window
  if len(envs) != E:
    raise ValueError(f"rollout needs one environment per start: {len(envs)} environments, {E} starts")
  obs = np.stack([env.reset(seed=seed + i, options=s)[0] for i, (env, s) in enumerate(zip(envs, starts))])
  states = np.zeros((E, K, obs.shape[1]), np.float32)
  actions = np.zeros((E, K, 2), np.float32)
  rtg = np.zeros((E, EPISODE_STEPS + 1), np.float32)
  rtg[:, 0] = np.zeros(E) if targets is None else np.asarray(targets, np.float32)
  positions, total, success = [obs[:, :2].copy()], np.zeros(E), np.zeros(E, bool)
  for t in range(EPISODE_STEPS):
    position = min(t, K - 1)
    if t >= K:  # slide the window by one step
      states[:, :-1], actions[:, :-1] = states[:, 1:].copy(), actions[:, 1:].copy()
    states[:, position] = obs
    start = t - position
    action = np.asarray(act(params, states, actions, position, rtg[:, start], np.full(E, EPISODE_STEPS - start)))
    actions[:, position] = action
    for i, env in enumerate(envs):
      obs[i], reward, _, _, info = env.step(action[i])
      total[i] += reward
      success[i] = info["success"]
    rtg[:, t + 1] = rtg[:, 0] - total
    positions.append(obs[:, :2].copy())
  return {"returns": total, "positions": np.stack(positions, axis=1), "success": success}
