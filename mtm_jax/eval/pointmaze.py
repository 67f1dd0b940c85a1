"""Maze2D rollouts through the shared loop (``rollout.run``): many MuJoCo environments stepped together,
the model called once per step for all of them over a sliding window of the last K steps.

Return conditioning follows the ``first`` policy: the window's first return-to-go (the episode's
target minus the reward received before the window) is visible, with the steps remaining beside it.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from mtm_jax.envs.pointmaze import ENV_ID
from mtm_jax.envs.pointmaze.env import EPISODE_STEPS
from mtm_jax.envs.rollout import make_policy, run


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

  act: ``rollout.make_act(predict, window, task)``; targets: per-episode target returns (rcbc),
  decremented by the reward received. Returns {"returns" [E], "positions" [E, L+1, 2], "success" [E]}.
  """
  E = len(starts)
  if len(envs) != E:
    raise ValueError(f"rollout needs one environment per start: {len(envs)} environments, {E} starts")
  task = "bc" if targets is None else "rcbc"
  policy = make_policy(act, params, window, task=task, targets=targets, return_kind="sum", horizon=EPISODE_STEPS)
  episodes = run(envs, policy, EPISODE_STEPS, seeds=[seed + i for i in range(E)], options=starts)
  success = np.array([bool(info["success"]) for info in episodes.infos])
  return {"returns": episodes.returns, "positions": episodes.observations[:, :, :2], "success": success}
