"""The Boltzmann noisy-rational agent that generates the gridworld data.

At each step it picks action a with probability softmax(beta * gain(a)), where gain(a) is how much
the move (where it really takes the agent; a blocked move gains 0) shrinks the Manhattan distance
to the current subgoal: the key while it lies on the floor, the door while the key is carried and
the door is closed, the goal once the door is open.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mtm_jax.envs.gridworld import functional, layout


def subgoal(state: jax.Array) -> jax.Array:
  key_cell = jnp.asarray(layout.STATE_KEY)[state]
  door_open = jnp.asarray(layout.STATE_DOOR_OPEN)[state]
  carrying = jnp.all(key_cell == jnp.asarray(layout.CARRIED))
  door_or_goal = jnp.where(door_open, jnp.asarray(layout.GOAL), jnp.asarray(layout.DOOR))
  return jnp.where(carrying, door_or_goal, key_cell)


def logits(state: jax.Array, beta: float) -> jax.Array:
  """beta * gain for each of the four actions, [4]."""
  goal_2 = subgoal(state)
  here_2 = functional.agent_cell(state)
  after_4x2 = functional.agent_cell(functional.next_states(state))
  gain_4 = jnp.abs(here_2 - goal_2).sum() - jnp.abs(after_4x2 - goal_2[None]).sum(-1)
  return beta * gain_4.astype(jnp.float32)


def act(key: jax.Array, state: jax.Array, beta: float) -> jax.Array:
  return jax.random.categorical(key, logits(state, beta))


def rollout(key: jax.Array, beta: float, steps: int = layout.EPISODE_STEPS) -> dict:
  """One episode from a fresh reset: observations [steps+1], actions [steps], rewards [steps]."""
  key_reset, key_act = jax.random.split(key)

  def body(state, k):
    action = act(k, state, beta)
    nxt, reward = functional.step(state, action)
    return nxt, (state, action, reward)

  last, (states, actions, rewards) = jax.lax.scan(body, functional.reset(key_reset), jax.random.split(key_act, steps))
  return {"observations": jnp.append(states, last), "actions": actions, "rewards": rewards}
