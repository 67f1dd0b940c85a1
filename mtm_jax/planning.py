"""Model-predictive control with one masked trajectory model as policy, dynamics model and value at once.

No new training: at each step the model proposes the window's remaining actions under the RCBC mask;
N candidate action sequences are drawn around that proposal (the first candidate is the proposal
itself); each candidate is scored in one masked pass that sees the states so far and the candidate's
actions and predicts the returns (the forward-dynamics mask over the rest of the window, returns
hidden); the first action of the candidate with the highest predicted return at the current step is
executed. In the spirit of M3PC (Wen et al. 2024). Jitted and batched over environments and candidates.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from mtm_jax import masks
from mtm_jax.errors import UserError
from mtm_jax.spec import ACTIONS, RETURNS, STATES


def make_planner(
  predict: Callable,
  *,
  action_low,
  action_high,
  num_candidates: int = 32,
  noise: float = 0.1,
  seed: int = 0,
  return_policy: str = "all",
) -> Callable:
  """An ``act(params, states, actions, returns, steps_remaining, position) -> actions [E, da]`` for
  ``rollout.make_policy`` (the same contract as ``rollout.make_act``'s rcbc act).

  noise: the candidates' Gaussian perturbation, as a fraction of each action dimension's half-range.
  Each call draws fresh candidates (its key is folded with a call counter).
  """
  if num_candidates < 1 or noise < 0:
    raise UserError(f"planning needs num_candidates >= 1 and noise >= 0; got {num_candidates} and {noise}")
  if return_policy not in ("first", "all"):
    raise UserError(f"return_policy must be 'first' or 'all', got {return_policy!r}")
  # [1, 1, 1, da]: broadcast against candidates [E, N, K, da]
  low, high = (jnp.asarray(b, jnp.float32).reshape(1, 1, 1, -1) for b in (action_low, action_high))
  N = num_candidates

  @jax.jit
  def plan(params, key, states, actions, returns, steps_remaining, position):
    E, K = states.shape[:2]
    traj = {STATES: states, ACTIONS: actions, RETURNS: returns, "steps_remaining": steps_remaining}
    proposal = predict(params, traj, masks.asked("rcbc", K, E, return_policy, index=position))
    future = (jnp.arange(K) >= position)[None, None, :, None]
    eps = jax.random.normal(key, (E, N, K, actions.shape[-1])) * noise * (high - low) / 2
    eps = eps.at[:, 0].set(0.0)  # the unperturbed proposal is always a candidate
    candidates = jnp.clip(jnp.where(future, proposal[ACTIONS][:, None] + eps, actions[:, None]), low, high)

    def tile(x):  # [E, ...] -> [E * N, ...], candidate-major within each environment
      return jnp.repeat(x, N, axis=0)

    flat = {
      STATES: tile(states),
      ACTIONS: candidates.reshape(E * N, K, -1),
      RETURNS: tile(returns),
      "steps_remaining": tile(steps_remaining),
    }
    scored = predict(params, flat, masks.asked("plan_value", K, E * N, return_policy, index=position))
    value = jnp.take_along_axis(scored[RETURNS][..., 0], jnp.full((E * N, 1), position), axis=1).reshape(E, N)
    best = jnp.argmax(value, axis=1)
    return candidates[jnp.arange(E), best, position]

  calls = [0]

  def act(params, states, actions, returns, steps_remaining, position):
    calls[0] += 1
    key = jax.random.fold_in(jax.random.key(seed), calls[0])
    return plan(params, key, states, actions, returns, steps_remaining, position)

  return act


def action_bounds(space) -> tuple[np.ndarray, np.ndarray]:
  """(low, high) of a gymnasium Box action space, finite (planning perturbs within them)."""
  low, high = np.asarray(space.low, np.float32), np.asarray(space.high, np.float32)
  if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
    raise UserError("planning needs a bounded action space (its noise is a fraction of the range)")
  return low, high
