"""One batched rollout loop for every gymnasium task, and the masked-model policies that drive it.

``run`` steps E environments in lock-step, one episode each, and asks a ``policy(history, t)`` for
all E actions at once; an environment whose episode has ended (termination or time limit) is no
longer stepped, and its rows after the end repeat its last observation, so a window that reaches
past the end stays well formed. The same loop evaluates SAC snapshots, records the locomotion
datasets, and rolls out masked trajectory models (``make_policy``) on Maze2D and locomotion.

A model policy calls one jitted ``act`` per step for every environment over a sliding window of the
last K steps (static shapes: one trace per rollout). Tasks:
  bc            s[0..t], a[0..t-1] visible; predict a[t]
  rcbc          bc plus returns: the window's first return-to-go and the steps remaining (``first``),
                or the return-to-go at every step up to t (``all``)
  rcbc_imagine  MTM's two-stage control: from the current state and the target alone, predict the
                window's future states and returns, fill them in, then predict the action
Return kinds follow the data (``data.returns``): ``sum`` (return-to-go; the target is decremented by the
reward received, as in Decision Transformer) or ``average`` (MTM's average reward over the steps left;
the target is held constant).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from mtm_jax import masks
from mtm_jax.errors import UserError
from mtm_jax.spec import ACTIONS, RETURNS, STATES

ROLLOUT_TASKS = ("bc", "rcbc", "rcbc_imagine")
RETURN_KINDS = ("sum", "average")


@dataclasses.dataclass
class Episodes:
  """E lock-step episodes; ``history`` passed to a policy at step t is this object, filled up to t."""

  observations: np.ndarray  # [E, L+1, ds]
  actions: np.ndarray  # [E, L, da]
  rewards: np.ndarray  # [E, L]
  lengths: np.ndarray  # int [E]: steps taken (L_i)
  terminated: np.ndarray  # bool [E]: ended by termination (False: time limit or still open)
  infos: list  # the last info dict of each environment

  @property
  def returns(self) -> np.ndarray:
    return self.rewards.sum(axis=1)

  def episode(self, i: int) -> dict:
    """Environment i's episode for a Minari buffer: observations [L+1], actions, rewards, flags [L]."""
    n = int(self.lengths[i])
    terminations = np.zeros(n, bool)
    terminations[-1] = self.terminated[i]
    return {
      "observations": self.observations[i, : n + 1],
      "actions": self.actions[i, :n],
      "rewards": self.rewards[i, :n],
      "terminations": terminations,
      "truncations": ~terminations & (np.arange(n) == n - 1),
    }


def flat_obs(env: gym.Env, obs) -> np.ndarray:
  return np.asarray(gym.spaces.flatten(env.observation_space, obs), np.float64)


def run(
  envs: Sequence[gym.Env],
  policy: Callable,
  max_steps: int | None = None,
  seeds: Sequence[int] | None = None,
  options: Sequence[dict] | None = None,
) -> Episodes:
  """One episode per environment, in lock-step; ``policy(history, t) -> actions [E, da]`` (env units).

  max_steps defaults to the environments' time limit; actions are clipped to the action space.
  """
  E = len(envs)
  max_steps = max_steps or envs[0].spec.max_episode_steps
  if not max_steps:
    raise ValueError("run needs max_steps for environments without a time limit")
  space = envs[0].action_space
  seeds = list(seeds) if seeds is not None else [None] * E
  options = list(options) if options is not None else [None] * E
  if len(seeds) != E or len(options) != E:
    raise ValueError(
      f"run needs one seed and one options entry per environment: {E} environments, {len(seeds)} seeds, {len(options)} options"
    )
  first = [flat_obs(env, env.reset(seed=s, options=o)[0]) for env, s, o in zip(envs, seeds, options)]
  h = Episodes(
    observations=np.repeat(np.stack(first)[:, None], max_steps + 1, axis=1),
    actions=np.zeros((E, max_steps) + space.shape, np.float32),
    rewards=np.zeros((E, max_steps)),
    lengths=np.zeros(E, int),
    terminated=np.zeros(E, bool),
    infos=[{} for _ in range(E)],
  )
  active = np.ones(E, bool)
  for t in range(max_steps):
    action = np.asarray(policy(h, t), np.float32)
    if action.shape != (E,) + space.shape:
      raise ValueError(f"the policy returned actions of shape {action.shape} at step {t}; expected {(E,) + space.shape}")
    action = h.actions[:, t] = np.clip(action, space.low, space.high)
    for i in np.flatnonzero(active):
      obs, reward, terminated, truncated, h.infos[i] = envs[i].step(action[i])
      h.observations[i, t + 1 :] = flat_obs(envs[i], obs)
      h.rewards[i, t] = reward
      h.lengths[i] = t + 1
      if terminated or truncated:
        active[i], h.terminated[i] = False, terminated
    if not active.any():
      break
  return h


def make_act(
  predict: Callable,
  window: int,
  task: str,
  return_policy: str = "first",
  past_actions: bool = True,
  history: bool = True,
  imagine_returns: bool = True,
) -> Callable:
  """A jitted ``act(params, states [E,K,ds], actions [E,K,da], returns [E,K,1], steps_remaining [E,K], position)``
  -> actions [E, da]; ``position`` (traced) is the current step's slot (t while t < K, then K-1).

  The masks are the mask tasks' own (``masks.bc``, ``masks.rcbc``, ``masks.imagine``, ``masks.imagine_act``) at
  the current slot, so mask coverage (mtm_jax.coverage) scores exactly what a rollout asks.
  past_actions=False hides the window's earlier actions, history=False every earlier step, imagine_returns=False
  the imagined returns from rcbc_imagine's second pass, for a model trained on that mask.
  """
  if task not in ROLLOUT_TASKS:
    raise ValueError(f"rollout task must be one of {ROLLOUT_TASKS}, got {task!r}")
  if return_policy not in ("first", "all"):
    raise ValueError(f"return_policy must be 'first' or 'all', got {return_policy!r}")

  def pick(values, position):
    return jnp.take_along_axis(values, jnp.broadcast_to(position, (values.shape[0], 1, 1)), axis=1)[:, 0]

  @jax.jit
  def act(params, states, actions, returns, steps_remaining, position):
    E = states.shape[0]
    traj = {STATES: states, ACTIONS: actions, RETURNS: returns, "steps_remaining": steps_remaining}
    if task == "rcbc_imagine":  # the current state sits in slot 0, the window is its imagined future
      first = masks.asked("imagine", window, E, return_policy)
      out = predict(params, traj, first)
      filled = {m: jnp.where(first[m][..., None], traj[m], out[m]) for m in (STATES, RETURNS)}
      second = masks.asked("imagine_act", window, E, return_policy, returns=imagine_returns)
      return predict(params, {**traj, **filled}, second)[ACTIONS][:, 0]
    mask = masks.asked(task, window, E, return_policy, index=position, past_actions=past_actions, history=history)
    return pick(predict(params, traj, mask)[ACTIONS], position)

  return act


def past_actions_seen(mask_config, task: str) -> bool:
  """Whether a model trained under ``mask_config`` (a MaskConfig) saw past actions on ``task`` (default True)."""
  return bool(mask_config.params(task).get("past_actions", True))


def make_policy(
  act: Callable, params, window: int, *, task: str = "bc", targets=None, return_kind: str = "sum", horizon: int = 0
) -> Callable:
  """A ``policy(history, t)`` for ``run`` that calls ``act`` (``make_act``) once per step.

  targets [E]: the return target of each episode, in the units of the model's returns (rcbc tasks);
  a ``sum`` target is decremented by the reward received, an ``average`` one held constant.
  horizon: the episode length that ``steps_remaining`` counts down from (models with max_horizon > 0).
  """
  if return_kind not in RETURN_KINDS:
    raise ValueError(f"return_kind must be one of {RETURN_KINDS}, got {return_kind!r}")
  if task != "bc" and targets is None:
    raise ValueError(f"task {task!r} needs a return target per episode (targets=)")
  K = window

  def policy(h: Episodes, t: int) -> np.ndarray:
    E = h.observations.shape[0]
    # float32 first: the model reads float32 returns, and the Maze2D study's numbers were made that way
    target = np.zeros(E) if targets is None else np.broadcast_to(np.asarray(targets, np.float32).astype(np.float64), (E,))
    if task == "rcbc_imagine":
      start, position = t, 0
      states = np.zeros((E, K, h.observations.shape[2]), np.float32)
      states[:, 0] = h.observations[:, t]
    else:
      position = min(t, K - 1)
      start = t - position
      states = _window(h.observations, start, K)
    actions = _window(h.actions, start, K)
    if return_kind == "sum":
      received = np.concatenate([np.zeros((E, 1)), np.cumsum(h.rewards, axis=1)], axis=1)  # reward before step s
      returns = _window(target[:, None] - received, start, K)
    else:
      returns = np.repeat(target[:, None], K, axis=1)
    steps_remaining = np.broadcast_to(horizon - start - np.arange(K), (E, K)).astype(np.int32)
    out = act(params, states, actions, returns[..., None].astype(np.float32), steps_remaining, position)
    return np.asarray(out)

  return policy


def _window(values: np.ndarray, start: int, K: int) -> np.ndarray:
  """values[:, start:start+K], zero-padded past the end, as float32."""
  out = np.zeros((values.shape[0], K) + values.shape[2:], np.float32)
  part = values[:, start : start + K]
  out[:, : part.shape[1]] = part
  return out


TARGET_RULES = ("start", "fraction", "fixed", "best")


def return_target(rule: str, episode_returns) -> float:
  """A rollout's return target, in the units of the model's returns, by a named rule over the training episodes'
  return tokens (``episode_returns``: one array per episode):

  ``start:q``     the q-quantile of the episodes' first return tokens: ``start:1.0`` is what the best training
                  episode holds from its start (its return, per step of the horizon for average returns), a
                  value the data shows where a rollout starts and holds it
  ``fraction:p``  min + p (max - min) over every return token (MTM's rule, p in 0.6 .. 1.1). With average
                  returns the largest token is a short average just before a time limit (5.53 on Hopper expert
                  against 3.30 for its best whole episode): held constant, ``fraction:1.0`` is out of distribution
  ``fixed:v``     v itself (Decision Transformer fixes one value per environment)
  ``best:m``      m x the largest return token (the Maze2D study's x1.2 is best:1.2)
  The default (eval.target_rule) is ``start:1.0``, fixed in advance rather than chosen on the evaluation episodes.
  """
  name, _, value = rule.partition(":")
  try:
    number = float(value)
  except ValueError:
    number = None
  if name not in TARGET_RULES or number is None:
    raise UserError(f"return target rule {rule!r}: use start:Q, fraction:P, fixed:V or best:M")
  if name == "fixed":
    return number
  episodes = [np.asarray(r, np.float64).reshape(-1) for r in episode_returns]
  if name == "start":
    if not 0 <= number <= 1:
      raise UserError(f"return target rule {rule!r}: the quantile Q of start:Q is in [0, 1]")
    return float(np.quantile([e[0] for e in episodes], number))
  tokens = np.concatenate(episodes)
  if name == "best":
    return number * float(tokens.max())
  return float(tokens.min() + number * (tokens.max() - tokens.min()))
