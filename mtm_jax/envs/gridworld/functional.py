"""The key-door room as pure JAX functions on the state index: ``reset(key)``, ``step(state, action)``.

The twin of ``minigrid_env.KeyDoorEnv`` (a test drives both with the same actions): jittable,
vmappable, and a few table lookups per step, so thousands of episodes roll out in one scan.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mtm_jax.envs.gridworld import layout

_STATE_AGENT = jnp.asarray(layout.STATE_AGENT)
_STATE_KEY = jnp.asarray(layout.STATE_KEY)
_STATE_DOOR_OPEN = jnp.asarray(layout.STATE_DOOR_OPEN)
_STATE_INDEX = jnp.asarray(layout.STATE_INDEX)
_MOVES = jnp.asarray(layout.MOVES)
_GOAL_DISTANCE = jnp.asarray(layout.GOAL_DISTANCE)
_WALKABLE = np.zeros((layout.SIZE, layout.SIZE), bool)
for _cell in layout.WALKABLE:
  _WALKABLE[_cell] = True
_WALKABLE = jnp.asarray(_WALKABLE)
_START_CELLS = jnp.asarray(layout.START_CELLS, jnp.int32)
_CARRIED = jnp.asarray(layout.CARRIED, jnp.int32)
_DOOR = jnp.asarray(layout.DOOR, jnp.int32)


def encode(agent: jax.Array, key_cell: jax.Array, door_open: jax.Array) -> jax.Array:
  """State index of agent [2], key [2] (``layout.CARRIED`` when carried), door_open bool."""
  return _STATE_INDEX[agent[0], agent[1], key_cell[0], key_cell[1], door_open.astype(jnp.int32)]


def agent_cell(state: jax.Array) -> jax.Array:
  """The agent's (x, y) in a state, [..., 2]."""
  return _STATE_AGENT[state]


def reset(key: jax.Array) -> jax.Array:
  """Agent and key on distinct uniformly random cells left of the wall, door locked."""
  key_agent, key_key = jax.random.split(key)
  n = _START_CELLS.shape[0]
  a = jax.random.randint(key_agent, (), 0, n)
  k = jax.random.randint(key_key, (), 0, n - 1)
  k = k + (k >= a)  # uniform over the other n - 1 cells
  return encode(_START_CELLS[a], _START_CELLS[k], jnp.asarray(False))


def step(state: jax.Array, action: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(next state, reward): the move of ``layout.ACTION_NAMES[action]`` under the room's rules."""
  agent, key_cell, door_open = _STATE_AGENT[state], _STATE_KEY[state], _STATE_DOOR_OPEN[state]
  carrying = jnp.all(key_cell == _CARRIED)
  target = agent + _MOVES[action]
  at_door = jnp.all(target == _DOOR)
  opens = at_door & ~door_open & carrying
  # Walls block; a closed door blocks unless the key is carried (it opens, for good).
  moves = _WALKABLE[target[0], target[1]] & (~at_door | door_open | carrying)
  new_agent = jnp.where(moves, target, agent)
  picks_up = moves & ~carrying & jnp.all(target == key_cell)
  new_key = jnp.where(picks_up, _CARRIED, key_cell)
  new_state = encode(new_agent, new_key, door_open | opens)
  reward = _GOAL_DISTANCE[agent[0], agent[1]] - _GOAL_DISTANCE[new_agent[0], new_agent[1]]
  return new_state, reward.astype(jnp.float32)


def next_states(state: jax.Array) -> jax.Array:
  """The state after each of the four actions, [4]."""
  return jax.vmap(step, in_axes=(None, 0))(state, jnp.arange(layout.NUM_ACTIONS))[0]


def transition_table() -> tuple[np.ndarray, np.ndarray]:
  """(next state [S, 4], reward [S, 4]) of every state and action, for planning and reachability."""
  with jax.ensure_compile_time_eval():  # concrete even when first asked for inside a jit
    states = jnp.arange(layout.NUM_STATES)
    actions = jnp.arange(layout.NUM_ACTIONS)
    nxt, reward = jax.vmap(lambda s: jax.vmap(lambda a: step(s, a))(actions))(states)
  return np.asarray(nxt), np.asarray(reward)
