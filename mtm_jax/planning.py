"""Model-predictive control with one masked trajectory model as policy, dynamics model and value at once.

No new training. At each step the planner lays the window out anew: ``history`` past steps, the current step,
and the rest of the window as an imagined future (under the ``first`` return policy the current step opens the
window, since the model knows only the first return). The model proposes the actions of the current step and
every imagined one under the RCBC mask at the current slot; N candidate sequences are drawn around that
proposal (the first candidate is the proposal itself), so candidates differ over the whole horizon, not one
action; each is scored in one pass under the ``plan_value`` mask (states up to the current slot and every
action visible, returns hidden: the model imagines the states the candidate leads to and predicts its return);
the current action of the best-scoring candidate is executed. Both masks are mask tasks at indices the
locomotion recipe's training draws (``mtm_jax.coverage``).

As in M3PC (Wen et al., ICLR 2025): the current step at slot K - h of the window with the history before it,
candidates for the whole horizon from the model's RCBC prediction in one pass, one forward-dynamics-style
scoring pass (their mask is ``plan_value``'s). Not adopted: a stochastic action head (this model regresses
actions: candidates are Gaussian perturbations of the proposal), a TD(lambda) value over predicted rewards
(these models have no reward token; see ``make_planner``'s scoring comment), the softmax-weighted action
(its temperature must match the scale of score differences, unmeasured here: the argmax is kept) and
hundreds of candidates (a CPU default).
Jitted and batched over environments and candidates.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from mtm_jax import masks
from mtm_jax.errors import UserError
from mtm_jax.spec import ACTIONS, RETURNS, STATES


def current_slot(position, history: int, return_policy: str):
  """The planning window's slot for the current step: after ``history`` past steps (fewer early in an
  episode), or the first slot under the ``first`` return policy."""
  return 0 if return_policy == "first" else jnp.minimum(position, history)


def make_planner(
  predict: Callable,
  *,
  action_low,
  action_high,
  num_candidates: int = 64,
  noise: float = 0.1,
  history: int = 1,
  seed: int = 0,
  return_policy: str = "all",
) -> Callable:
  """An ``act(params, states, actions, returns, steps_remaining, position) -> actions [E, da]`` for
  ``rollout.make_policy`` (the same contract as ``rollout.make_act``'s rcbc act). ``act.score``, with the same
  arguments, returns what the choice is made from: (candidates [E, N, K, da] in the planning window's layout,
  their values [E, N], the current step's slot), the first candidate the unperturbed proposal
  (``mtm_jax.eval.planner_ranking`` plays them out).

  num_candidates: action sequences scored per environment and step. The scoring pass costs one forward pass
  per candidate window: at the small locomotion scale, 50 environments on 2 (shared) CPU cores, 0.75 s a step
  at 64 (1.7 s at 128) against 4 ms for plain RCBC. M3PC draws 625-1024 on a GPU.
  noise: the candidates' Gaussian perturbation, as a fraction of each action dimension's half-range.
  history: past steps kept before the current one; the K - 1 - history slots after it are the imagined
  horizon (history = K - 1 plans the current action alone). Ignored under the ``first`` return policy.
  Each call draws fresh candidates (its key is folded with a call counter, which ``act`` and ``act.score``
  share: a score call moves the draws of the acts after it).
  """
  if num_candidates < 1 or noise < 0 or history < 0:
    raise UserError(
      f"planning needs num_candidates >= 1, noise >= 0 and history >= 0; got {num_candidates}, {noise} and {history}"
    )
  if return_policy not in ("first", "all"):
    raise UserError(f"return_policy must be 'first' or 'all', got {return_policy!r}")
  # [1, 1, 1, da]: broadcast against candidates [E, N, K, da]
  low, high = (jnp.asarray(b, jnp.float32).reshape(1, 1, 1, -1) for b in (action_low, action_high))
  N = num_candidates

  def score(params, key, states, actions, returns, steps_remaining, position):
    E, K = states.shape[:2]
    if history >= K and return_policy == "all":
      raise UserError(f"planning keeps history={history} past steps, which leaves no slot of the window (K={K}) to plan")
    current = current_slot(position, history, return_policy)
    slots = jnp.arange(K)
    seen = slots <= current  # history and the current step; the slots after it are imagined

    def relaid(x):  # the rollout window (current step at `position`) with the current step at `current`
      moved = jnp.take(x, jnp.clip(slots + position - current, 0, K - 1), axis=1)
      now = jnp.take(x, jnp.full((K,), position), axis=1)  # hidden where imagined: any value will do
      return jnp.where(seen.reshape((1, K) + (1,) * (x.ndim - 2)), moved, now)

    traj = {
      STATES: relaid(states),
      ACTIONS: relaid(actions),
      RETURNS: relaid(returns),
      "steps_remaining": jnp.take(steps_remaining, jnp.asarray(position)[None], axis=1) + current - slots[None],
    }
    proposal = predict(params, traj, masks.asked("rcbc", K, E, return_policy, index=current))[ACTIONS]
    eps = jax.random.normal(key, (E, N, K, actions.shape[-1])) * noise * (high - low) / 2
    eps = eps.at[:, 0].set(0.0)  # the unperturbed proposal is always a candidate
    future = (slots >= current)[None, None, :, None]
    candidates = jnp.clip(jnp.where(future, proposal[:, None] + eps, traj[ACTIONS][:, None]), low, high)

    def tile(x):  # [E, ...] -> [E * N, ...], candidate-major within each environment
      return jnp.repeat(x, N, axis=0)

    flat = {m: tile(x) for m, x in traj.items()}
    flat[ACTIONS] = candidates.reshape(E * N, K, -1)
    scored = predict(params, flat, masks.asked("plan_value", K, E * N, return_policy, index=current))
    # The score. With n_s the steps remaining at step s and R_s its return token, a candidate's return from
    # the current step t over an imagined horizon ending at step e is what it achieves in between plus the
    # value at the end: G_t = sum_{t <= s < e} r_s + n_e R_e (average kind: R_s is the mean reward over the
    # n_s steps left, MTM's; sum kind: n_e R_e becomes R_e). These models have no reward token, so the only
    # in-between rewards they predict are differences of their own return tokens, r_s = n_s R_s - n_{s+1}
    # R_{s+1} (R_s - R_{s+1}), and with them the sum telescopes: G_t = n_t R_t (R_t), whatever the horizon
    # and however it is weighted (M3PC's TD(lambda) mix of h-step values collapses the same way). So the
    # value is the return token at the current slot, predicted with the candidate's whole horizon of
    # actions in view and the states it leads to imagined; n_t is shared by every candidate, so ranking by
    # R_t ranks by G_t under either return kind. It is also plan_value's target, the token its training
    # draws score, where the end-of-horizon token is not.
    return candidates, jnp.take(scored[RETURNS][..., 0], current, axis=1).reshape(E, N), current

  @jax.jit
  def plan(params, key, *window):
    candidates, value, current = score(params, key, *window)
    best = jnp.argmax(value, axis=1)
    return jnp.take(candidates[jnp.arange(value.shape[0]), best], current, axis=1)

  calls = [0]

  def keyed(f):  # each call draws fresh candidates
    def call(params, *window):
      calls[0] += 1
      return f(params, jax.random.fold_in(jax.random.key(seed), calls[0]), *window)

    return call

  act = keyed(plan)
  act.score = keyed(jax.jit(score))
  return act


def action_bounds(space) -> tuple[np.ndarray, np.ndarray]:
  """(low, high) of a gymnasium Box action space, finite (planning perturbs within them)."""
  low, high = np.asarray(space.low, np.float32), np.asarray(space.high, np.float32)
  if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
    raise UserError("planning needs a bounded action space (its noise is a fraction of the range)")
  return low, high
