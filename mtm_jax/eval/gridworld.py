"""Gridworld evaluations of a trained model: jitted rollouts on the JAX twin, future-state marginals.

A rollout is one ``lax.scan`` over the episode's steps with the episodes as a ``vmap``-ed batch
axis: each step makes one ``predict`` call for all episodes. At step t the model sees the states so far, the actions so far and
the task's conditioning (a target return, a goal state at T-1, waypoint states), exactly the
masks of ``masks.TASKS`` at index t, and its action is taken by argmax or by sampling.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from mtm_jax import masks
from mtm_jax.envs.gridworld import agent, functional, layout
from mtm_jax.spec import ACTIONS, RETURNS, STATES, DatasetSpec

ROLLOUT_TASKS = ("bc", "rcbc", "goal", "waypoint")
WAYPOINT_STEPS = (3, 6, 9)  # masks.waypoint's conditioning steps for T = 10 (besides t = 0)


@functools.lru_cache(maxsize=1)
def _tables():
  """Transition table, best achievable return in k steps [K+1, S], and k-step reachability [K+1, S, S]."""
  nxt, reward = functional.transition_table()
  T, S = layout.EPISODE_STEPS, layout.NUM_STATES
  best = np.zeros((T + 1, S), np.float32)
  for k in range(1, T + 1):
    best[k] = (reward + best[k - 1][nxt]).max(axis=1)
  step_reach = np.zeros((S, S), bool)
  step_reach[np.repeat(np.arange(S), layout.NUM_ACTIONS), nxt.reshape(-1)] = True
  reach = np.zeros((T + 1, S, S), bool)
  reach[0] = np.eye(S, dtype=bool)
  for k in range(1, T + 1):
    reach[k] = (reach[k - 1].astype(np.int32) @ step_reach.astype(np.int32)) > 0
  return best, reach


def _goal_states() -> tuple[np.ndarray, np.ndarray]:
  """A goal state per walkable cell other than the goal: key carried, door open iff the cell needs it."""
  cells = [c for c in layout.WALKABLE if c != layout.GOAL]
  states = [layout.encode_state(c, None, c not in layout.START_CELLS) for c in cells]
  return np.asarray(cells, np.int32), np.asarray(states, np.int32)


def conditions(key: jax.Array, task: str, start: jax.Array, beta: float = 1.0) -> dict:
  """Per-episode conditioning of a task from its start state: a target return, a goal or waypoints.

  rcbc: the best return achievable from the start in T steps. goal: a walkable cell other than
  the goal, uniformly among those whose goal state can be reached at t = T-1. waypoint: the
  states at t = 3, 6, 9 of a noisy-rational (beta) episode from the same start.
  """
  T = layout.EPISODE_STEPS
  best, reach = _tables()
  cond = {"target_return": jnp.asarray(best[T])[start]}
  if task == "goal":
    cells, states = _goal_states()
    feasible = jnp.asarray(reach[T - 1])[start][jnp.asarray(states)]
    pick = jax.random.categorical(key, jnp.where(feasible, 0.0, -jnp.inf))
    cond["goal_cell"], cond["goal_state"] = jnp.asarray(cells)[pick], jnp.asarray(states)[pick]
  if task == "waypoint":

    def body(state, k):
      nxt, _ = functional.step(state, agent.act(k, state, beta))
      return nxt, state

    _, states = jax.lax.scan(body, start, jax.random.split(key, T))
    cond["waypoints"] = states[jnp.asarray(WAYPOINT_STEPS)]
  return cond


def _window_inputs(task: str, t: jax.Array, states_T: jax.Array, actions_T: jax.Array, cond: dict, spec: DatasetSpec):
  """traj and mask for one episode at step t."""
  T = layout.EPISODE_STEPS
  visible, _ = masks.get_task(task)(jax.random.key(0), T, spec, index=t, return_policy="first")
  steps = jnp.arange(T)
  planned = jnp.zeros(T, jnp.int32)
  if task == "goal":
    planned = planned.at[T - 1].set(cond["goal_state"])
  if task == "waypoint":
    planned = planned.at[jnp.asarray(WAYPOINT_STEPS)].set(cond["waypoints"])
  traj = {
    STATES: jnp.where(steps <= t, states_T, planned),
    ACTIONS: actions_T,
    RETURNS: jnp.zeros((T, 1), jnp.float32).at[0, 0].set(cond["target_return"]),
    "steps_remaining": T - steps,
  }
  return traj, visible


def rollout(predict: Callable, params, key: jax.Array, task: str, spec: DatasetSpec, num_episodes: int, sample: bool = False):
  """Episodes on the JAX twin with the model acting: {"states" [E, T+1], "actions", "rewards" [E, T], conditions}.

  ``predict`` is ``make_predict(config)``; jit the whole call (see ``make_rollout``).
  """
  if task not in ROLLOUT_TASKS:
    raise ValueError(f"rollout task must be one of {ROLLOUT_TASKS}, got {task!r}")
  T = layout.EPISODE_STEPS
  key_reset, key_cond, key_act = jax.random.split(key, 3)
  starts = jax.vmap(functional.reset)(jax.random.split(key_reset, num_episodes))
  cond = jax.vmap(lambda k, s: conditions(k, task, s))(jax.random.split(key_cond, num_episodes), starts)
  inputs = jax.vmap(_window_inputs, in_axes=(None, None, 0, 0, 0, None))

  def body(carry, xs):
    env_state, states_ET, actions_ET = carry
    t, k = xs
    states_ET = states_ET.at[:, t].set(env_state)
    traj, visible = inputs(task, t, states_ET, actions_ET, cond, spec)
    logp_EA = predict(params, traj, visible)[ACTIONS][:, t]
    action_E = jax.random.categorical(k, logp_EA) if sample else jnp.argmax(logp_EA, axis=-1)
    actions_ET = actions_ET.at[:, t].set(action_E)
    env_state, reward_E = jax.vmap(functional.step)(env_state, action_E)
    return (env_state, states_ET, actions_ET), reward_E

  zeros = jnp.zeros((num_episodes, T), jnp.int32)
  (last, states_ET, actions_ET), rewards_TE = jax.lax.scan(
    body, (starts, zeros, zeros), (jnp.arange(T), jax.random.split(key_act, T))
  )
  states_ET1 = jnp.concatenate([states_ET, last[:, None]], axis=1)
  return {"states": states_ET1, "actions": actions_ET, "rewards": rewards_TE.T, **cond}


def make_rollout(predict: Callable, spec: DatasetSpec, task: str, num_episodes: int, sample: bool = False) -> Callable:
  """A jitted ``(params, key) -> episodes`` for one task."""
  return jax.jit(functools.partial(rollout, predict, task=task, spec=spec, num_episodes=num_episodes, sample=sample))


def success(task: str, episodes: dict) -> np.ndarray:
  """bool [E]: bc at the goal at the end; rcbc reached its target return; goal at the cell at T-1; waypoints all hit."""
  states = np.asarray(episodes["states"])
  T = layout.EPISODE_STEPS
  cells = layout.STATE_AGENT[states]  # [E, T+1, 2]
  if task == "bc":
    return np.all(cells[:, -1] == np.asarray(layout.GOAL), axis=-1)
  if task == "rcbc":
    return np.asarray(episodes["rewards"]).sum(1) >= np.asarray(episodes["target_return"]) - 1e-6
  if task == "goal":
    return np.all(cells[:, T - 1] == np.asarray(episodes["goal_cell"]), axis=-1)
  if task == "waypoint":
    return np.all(states[:, list(WAYPOINT_STEPS)] == np.asarray(episodes["waypoints"]), axis=1)
  raise ValueError(f"no success criterion for task {task!r}; use one of {ROLLOUT_TASKS}")


def cell_marginals(log_probs_TxS: jax.Array) -> np.ndarray:
  """Probability of the agent being in each walkable cell, [T, len(layout.WALKABLE)], from state log-probs."""
  return np.asarray(jnp.exp(log_probs_TxS) @ jnp.asarray(layout.STATE_TO_CELL))
