"""Pure mask generators: ``fn(key, T, spec, **params) -> (visible, target)``.

A mask is a dict ``modality -> bool [T]`` with True = visible to the model. ``target`` names
the hidden tokens a task is scored on. Every generator has static shapes, so it works under
``jit`` and ``jax.vmap`` (one mask per sample). Positions ``t``, ``k``, ``i`` are drawn
uniformly from ``key`` unless passed as ``index``.

Returns follow a policy: ``"first"`` (Uni[MASK]) only ever shows or scores the window's first
return-to-go (the model gets the steps remaining beside it); ``"all"`` (Decision Transformer /
MTM) treats returns at every step like any other token.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from mtm_jax.spec import ACTIONS, RETURNS, STATES, DatasetSpec

Mask = dict[str, jax.Array]
MaskFn = Callable[..., tuple[Mask, Mask]]
RETURN_POLICIES = ("first", "all")
AUTOREGRESSIVE_MODE_ORDER = (STATES, RETURNS, ACTIONS)
ROLES = (STATES, ACTIONS, RETURNS)  # the names a mask is built on where there is no dataset spec (rollouts, planning)


def _check_policy(policy: str) -> None:
  if policy not in RETURN_POLICIES:
    raise ValueError(f"return_policy must be one of {RETURN_POLICIES}, got {policy!r}")


def _check_length(task: str, T: int, minimum: int) -> None:
  if T < minimum:
    raise ValueError(f"task {task!r} needs a window of at least {minimum} steps, got T={T}")


# Where each positional task draws its index: [lo, T + hi_offset). The one table both the tasks and
# mask coverage (mtm_jax.coverage) read, so coverage can enumerate every index a task can draw.
INDEX_RANGES: dict[str, tuple[int, int]] = {
  "bc": (0, 0),
  "rcbc": (0, 0),
  "goal": (0, -1),
  "waypoint": (0, -1),
  "future": (1, 0),
  "past": (1, 0),
  "forward_dynamics": (0, -1),
  "reference_forward_dynamics": (0, -1),
  "inverse_dynamics": (0, -1),
  "backwards_dynamics": (1, 0),
  "plan_value": (0, 0),
  "random_autoregressive": (0, 0),
}


def index_range(task: str, T: int) -> range | None:
  """The indices ``task`` draws from at window T (None: the task has no index)."""
  if task not in INDEX_RANGES:
    return None
  lo, hi_offset = INDEX_RANGES[task]
  return range(lo, T + hi_offset)


def _index(key: jax.Array, index: int | None, task: str, T: int) -> jax.Array:
  """The given index, or one drawn uniformly from the task's range."""
  if index is None:
    indices = index_range(task, T)
    return jax.random.randint(key, (), indices.start, indices.stop)
  return jnp.asarray(index, jnp.int32)


def _names(spec) -> tuple[str, ...]:
  """A DatasetSpec's modality names, or the names themselves (the rollout loop has no spec)."""
  return tuple(getattr(spec, "names", spec))


def _empty(spec: DatasetSpec, T: int) -> Mask:
  return {name: jnp.zeros((T,), bool) for name in _names(spec)}


def _put(mask: Mask, name: str, value: jax.Array) -> None:
  """Sets a modality's row if the dataset has that modality (tasks skip absent roles)."""
  if name in mask:
    mask[name] = value


def _extras(spec: DatasetSpec) -> list[str]:
  return [n for n in _names(spec) if n not in (STATES, ACTIONS, RETURNS)]


def _scorable_returns(T: int, policy: str) -> jax.Array:
  """Return-to-go tokens a task may show or score under the policy."""
  return jnp.arange(T) == 0 if policy == "first" else jnp.ones((T,), bool)


def _history(T: int, spec: DatasetSpec, t: jax.Array, past_actions: bool = True, history: bool = True) -> tuple[Mask, Mask]:
  """The BC pattern: s[0..t], a[0..t-1] visible (only s[0..t] without past_actions; only s[t] without
  history), a[t] the target."""
  steps = jnp.arange(T)
  visible, target = _empty(spec, T), _empty(spec, T)
  _put(visible, STATES, (steps <= t) if history else (steps == t))
  _put(visible, ACTIONS, (steps < t) & past_actions & history)
  _put(target, ACTIONS, steps == t)
  return visible, target


def bc(key, T, spec, *, index=None, return_policy="first", past_actions=True, history=True):
  """Behaviour cloning: predict a[t] from s[0..t], a[0..t-1].

  past_actions=False hides a[0..t-1]: a state-only history, against a policy that learns to repeat
  its last action (copycat) when the data's actions are strongly autocorrelated. history=False shows
  s[t] alone (the reference MTM's BC).
  """
  _check_policy(return_policy)
  return _history(T, spec, _index(key, index, "bc", T), past_actions, history)


def rcbc(key, T, spec, *, index=None, return_policy="first", past_actions=True, history=True):
  """Return-conditioned BC: bc plus returns (first token, or every step up to t; at t alone without history)."""
  _check_policy(return_policy)
  t = _index(key, index, "rcbc", T)
  visible, target = _history(T, spec, t, past_actions, history)
  steps = jnp.arange(T)
  shown = steps <= t if history else steps == t
  _put(visible, RETURNS, steps == 0 if return_policy == "first" else shown)
  return visible, target


def goal(key, T, spec, *, index=None, return_policy="first"):
  """Goal-conditioned BC: bc plus the window's last state."""
  _check_policy(return_policy)
  _check_length("goal", T, 2)
  visible, target = _history(T, spec, _index(key, index, "goal", T))
  if STATES in visible:  # a dataset without states has nothing to condition on but the history
    visible[STATES] = visible[STATES] | (jnp.arange(T) == T - 1)
  return visible, target


def waypoint(key, T, spec, *, index=None, return_policy="first"):
  """Waypoint-conditioned BC: bc plus states at 0, T//3, 2T//3 and T-1."""
  _check_policy(return_policy)
  _check_length("waypoint", T, 2)
  visible, target = _history(T, spec, _index(key, index, "waypoint", T))
  waypoints = np.zeros(T, bool)
  waypoints[[0, T // 3, 2 * T // 3, T - 1]] = True
  if STATES in visible:
    visible[STATES] = visible[STATES] | jnp.asarray(waypoints)
  return visible, target


def future(key, T, spec, *, index=None, return_policy="first"):
  """Future inference: everything before k visible, everything from k on the target."""
  _check_policy(return_policy)
  _check_length("future", T, 2)
  k = _index(key, index, "future", T)
  before = jnp.arange(T) < k
  visible, target = _empty(spec, T), _empty(spec, T)
  for name in [STATES, ACTIONS, *_extras(spec)]:
    _put(visible, name, before)
    _put(target, name, ~before)
  scorable = _scorable_returns(T, return_policy)
  _put(visible, RETURNS, (jnp.arange(T) == 0) if return_policy == "first" else before)
  _put(target, RETURNS, ~before & scorable)
  return visible, target


def past(key, T, spec, *, index=None, return_policy="first"):
  """Past inference: states and actions from k on visible, those before k the target."""
  _check_policy(return_policy)
  _check_length("past", T, 2)
  before = jnp.arange(T) < _index(key, index, "past", T)
  visible, target = _empty(spec, T), _empty(spec, T)
  for name in [STATES, ACTIONS, *_extras(spec)]:
    _put(visible, name, ~before)
    _put(target, name, before)
  return visible, target


def forward_dynamics(key, T, spec, *, index=None, return_policy="first", past_actions=True):
  """Forward dynamics: s[0..i], a[0..i] visible, s[i+1] the target. Without past_actions only a[i] of the
  actions: at i = T - 2 the reference MTM's evaluation mask (its ``eval_fd``)."""
  _check_policy(return_policy)
  _check_length("forward_dynamics", T, 2)
  i = _index(key, index, "forward_dynamics", T)
  steps = jnp.arange(T)
  visible, target = _empty(spec, T), _empty(spec, T)
  _put(visible, STATES, steps <= i)
  _put(visible, ACTIONS, (steps <= i) if past_actions else (steps == i))
  _put(target, STATES, steps == i + 1)
  return visible, target


def reference_forward_dynamics(key, T, spec, *, index=None, return_policy="first"):
  """The reference MTM's forward-dynamics training mask (its ``create_forward_dynamics_mask``): the first i
  states (none at i = 0) and every action visible, the later states the target, i in 0..T-2. So it never shows
  T - 1 states at once, nor hides an action: the reference's evaluation (``forward_dynamics`` at i = T - 2
  without past actions) is out of its distribution. Kept to measure that (studies/mtm.py)."""
  _check_policy(return_policy)
  _check_length("reference_forward_dynamics", T, 2)
  i = _index(key, index, "reference_forward_dynamics", T)
  steps = jnp.arange(T)
  visible, target = _empty(spec, T), _empty(spec, T)
  _put(visible, STATES, steps < i)
  _put(visible, ACTIONS, jnp.ones((T,), bool))
  _put(target, STATES, steps >= i)
  return visible, target


def inverse_dynamics(key, T, spec, *, index=None, return_policy="first", all_states=False):
  """Inverse dynamics: s[i], s[i+1] (or every state) visible, a[i] the target."""
  _check_policy(return_policy)
  _check_length("inverse_dynamics", T, 2)
  i = _index(key, index, "inverse_dynamics", T)
  steps = jnp.arange(T)
  visible, target = _empty(spec, T), _empty(spec, T)
  _put(visible, STATES, jnp.ones((T,), bool) if all_states else (steps == i) | (steps == i + 1))
  _put(target, ACTIONS, steps == i)
  return visible, target


def backwards_dynamics(key, T, spec, *, index=None, return_policy="first"):
  """Backwards dynamics: s[i], a[i-1] visible, s[i-1] the target."""
  _check_policy(return_policy)
  _check_length("backwards_dynamics", T, 2)
  i = _index(key, index, "backwards_dynamics", T)
  steps = jnp.arange(T)
  visible, target = _empty(spec, T), _empty(spec, T)
  _put(visible, STATES, steps == i)
  _put(visible, ACTIONS, steps == i - 1)
  _put(target, STATES, steps == i - 1)
  return visible, target


def plan_value(key, T, spec, *, index=None, return_policy="first"):
  """The planner's scoring: s[0..i] and every action visible, returns hidden; the return at i the target."""
  _check_policy(return_policy)
  i = _index(key, index, "plan_value", T)
  steps = jnp.arange(T)
  visible, target = _empty(spec, T), _empty(spec, T)
  _put(visible, STATES, steps <= i)
  _put(visible, ACTIONS, jnp.ones((T,), bool))
  _put(target, RETURNS, (steps == i) & _scorable_returns(T, return_policy))
  return visible, target


def imagine(key, T, spec, *, index=None, return_policy="first"):
  """rcbc_imagine's first pass: s[0] and the return at 0 visible; the later states and returns the target."""
  del key, index
  _check_policy(return_policy)
  first = jnp.arange(T) == 0
  visible, target = _empty(spec, T), _empty(spec, T)
  for name in (STATES, RETURNS):
    _put(visible, name, first)
  _put(target, STATES, ~first)
  _put(target, RETURNS, ~first & _scorable_returns(T, return_policy))
  return visible, target


def imagine_act(key, T, spec, *, index=None, return_policy="first", returns=True):
  """rcbc_imagine's second pass: every state and return visible (the imagined window); a[0] the target.
  returns=False shows the states alone: the reference MTM's inverse-dynamics mask, for a model trained on it."""
  del key, index
  _check_policy(return_policy)
  visible, target = _empty(spec, T), _empty(spec, T)
  for name in (STATES, RETURNS) if returns else (STATES,):
    _put(visible, name, jnp.ones((T,), bool))
  _put(target, ACTIONS, jnp.arange(T) == 0)
  return visible, target


def reconstruct(key, T, spec, *, index=None, return_policy="first"):
  """Everything visible and scored (the representation-learning view)."""
  del key, index
  _check_policy(return_policy)
  visible = {name: jnp.ones((T,), bool) for name in _names(spec)}
  if RETURNS in visible:
    visible[RETURNS] = _scorable_returns(T, return_policy)
  return visible, dict(visible)


def revealed_modality(spec: DatasetSpec) -> str:
  """The modality ``ensure_visible`` reveals one uniformly drawn token of when a mask would show nothing."""
  return STATES if STATES in spec else spec.names[0]


def _ensure_visible(key: jax.Array, visible: Mask, spec: DatasetSpec) -> Mask:
  """Reveals one random token of the first modality if a sample would see nothing at all."""
  T = next(iter(visible.values())).shape[0]
  nothing = ~jnp.any(jnp.stack([v.any() for v in visible.values()]))
  name = revealed_modality(spec)
  reveal = nothing & (jnp.arange(T) == jax.random.randint(key, (), 0, T))
  return {**visible, name: visible[name] | reveal}


def scored_if_hidden(visible: Mask, T: int, policy: str) -> Mask:
  target = {name: ~v for name, v in visible.items()}
  if RETURNS in target:
    target[RETURNS] = target[RETURNS] & _scorable_returns(T, policy)
  return target


def random(key, T, spec, *, index=None, return_policy="first", ensure_visible=True):
  """Uni[MASK] random masking: p ~ U(0,1); each token hidden w.p. p; first return w.p. 1/2.

  Later returns are always hidden. Every hidden token is a target.
  """
  del index
  _check_policy(return_policy)
  key_p, key_tokens, key_return, key_fix = jax.random.split(key, 4)
  p = jax.random.uniform(key_p)
  token_keys = jax.random.split(key_tokens, len(spec.names))
  visible = {name: jax.random.uniform(k, (T,)) >= p for name, k in zip(spec.names, token_keys)}
  if RETURNS in visible:
    visible[RETURNS] = (jnp.arange(T) == 0) & jax.random.bernoulli(key_return, 0.5)
  if ensure_visible:
    visible = _ensure_visible(key_fix, visible, spec)
  return visible, scored_if_hidden(visible, T, return_policy)


def autoregressive_cut(T: int, names, mode, position, return_policy: str, xp=np) -> dict:
  """The tokens random_autoregressive may keep after its cut: the mode's modality and those after it in
  AUTOREGRESSIVE_MODE_ORDER up to ``position`` (exclusive), the ones before it up to ``position`` inclusive,
  any other modality whole; returns only at step 0 under the ``first`` policy. ``xp``: numpy for concrete
  mode and position (mask coverage), jax.numpy for traced ones."""
  steps = xp.arange(T)
  allowed = {name: xp.ones((T,), bool) for name in names}
  for order, name in enumerate(AUTOREGRESSIVE_MODE_ORDER):
    if name in allowed:
      allowed[name] = steps < xp.where(order >= mode, position, position + 1)
  if RETURNS in allowed and return_policy == "first":
    allowed[RETURNS] = allowed[RETURNS] & (steps == 0)
  return allowed


def random_autoregressive(
  key,
  T,
  spec,
  *,
  index=None,
  return_policy="all",
  keep_ratios: Sequence[float] = (0.7, 0.8, 0.85, 0.9, 0.95, 1.0),
  mode_weights: Sequence[float] = (0.2, 0.1, 0.7),
  ensure_visible=True,
  ratio_per_modality=False,
):
  """MTM random-autoregressive masking.

  Each modality keeps ``int(T * r)`` random tokens, r drawn from ``keep_ratios`` once for all modalities
  (or, ``ratio_per_modality``, for each modality apart, as the reference MTM does); then a mode
  (states / returns / actions, weighted) and a position are drawn: that mode and the modes after
  it are hidden from the position on, the modes before it from the step after. Targets: every
  hidden token. ``index`` fixes the position.
  """
  _check_policy(return_policy)
  if len(mode_weights) != len(AUTOREGRESSIVE_MODE_ORDER):
    raise ValueError(f"mode_weights needs one weight per mode {AUTOREGRESSIVE_MODE_ORDER}, got {mode_weights}")
  present = [name in spec for name in AUTOREGRESSIVE_MODE_ORDER]
  weights = np.asarray(mode_weights, np.float64) * present
  if weights.sum() <= 0:
    raise ValueError(f"mode_weights {tuple(mode_weights)} give no weight to a mode this dataset has")
  keep_counts = jnp.asarray([int(T * r) for r in keep_ratios], jnp.int32)
  key_ratio, key_tokens, key_mode, key_pos, key_fix = jax.random.split(key, 5)
  n_keep_M = jax.random.choice(key_ratio, keep_counts, (len(spec.names) if ratio_per_modality else 1,))
  n_keep_M = jnp.broadcast_to(n_keep_M, (len(spec.names),))
  token_keys = jax.random.split(key_tokens, len(spec.names))
  # A token is kept if its random rank is below n_keep: exactly n_keep kept per modality.
  visible = {
    name: jnp.argsort(jax.random.uniform(k, (T,))) < n_keep_M[i] for i, (name, k) in enumerate(zip(spec.names, token_keys))
  }
  mode = jax.random.choice(key_mode, len(weights), p=jnp.asarray(weights / weights.sum()))
  position = _index(key_pos, index, "random_autoregressive", T)
  allowed = autoregressive_cut(T, spec.names, mode, position, return_policy, xp=jnp)
  visible = {name: v & allowed[name] for name, v in visible.items()}
  if ensure_visible:
    visible = _ensure_visible(key_fix, visible, spec)
  return visible, scored_if_hidden(visible, T, return_policy)


TASKS: dict[str, MaskFn] = {
  "bc": bc,
  "rcbc": rcbc,
  "goal": goal,
  "waypoint": waypoint,
  "future": future,
  "past": past,
  "forward_dynamics": forward_dynamics,
  "reference_forward_dynamics": reference_forward_dynamics,
  "inverse_dynamics": inverse_dynamics,
  "backwards_dynamics": backwards_dynamics,
  "plan_value": plan_value,
  "imagine": imagine,
  "imagine_act": imagine_act,
  "reconstruct": reconstruct,
  "random": random,
  "random_autoregressive": random_autoregressive,
}


def get_task(name: str) -> MaskFn:
  if name not in TASKS:
    raise ValueError(f"unknown mask task {name!r}; choose from {sorted(TASKS)}")
  return TASKS[name]


def asked(task: str, T: int, rows: int, return_policy: str, **params) -> Mask:
  """A task's visible mask over the three roles (no dataset spec), ``[rows, T]``: what the rollout loop and the
  planner ask a model (``index`` may be traced), built by the task itself so coverage scores exactly that."""
  visible, _ = get_task(task)(None, T, ROLES, return_policy=return_policy, **params)
  return {m: jnp.broadcast_to(v, (rows, T)) for m, v in visible.items()}


def make_sampler(
  spec: DatasetSpec,
  T: int,
  tasks: Sequence[str],
  *,
  weights: Sequence[float] | None = None,
  return_policy: str = "first",
  task_params: Mapping[str, Mapping] | None = None,
) -> Callable[[jax.Array], tuple[Mask, Mask]]:
  """A ``key -> (visible, target)`` sampler drawing one task from a weighted list."""
  if not tasks:
    raise ValueError("a mask sampler needs at least one task")
  task_params = dict(task_params or {})
  unknown = set(task_params) - set(tasks)
  if unknown:
    raise ValueError(f"task_params names tasks {sorted(unknown)} that are not in the task list {list(tasks)}")
  branches = [
    functools.partial(get_task(name), T=T, spec=spec, return_policy=return_policy, **task_params.get(name, {})) for name in tasks
  ]
  # Fail here, in Python, on bad parameters rather than inside a trace later.
  for branch in branches:
    jax.eval_shape(branch, jax.random.key(0))
  if len(branches) == 1:
    return branches[0]
  if weights is None:
    weights = [1.0] * len(tasks)
  if len(weights) != len(tasks) or min(weights) < 0 or sum(weights) <= 0:
    raise ValueError(f"weights {list(weights)} must be non-negative, not all zero, one per task {list(tasks)}")
  probs = jnp.asarray(np.asarray(weights, np.float64) / np.sum(weights), jnp.float32)

  def sample(key):
    key_task, key_mask = jax.random.split(key)
    choice = jax.random.choice(key_task, len(branches), p=probs)
    return jax.lax.switch(choice, branches, key_mask)

  return sample


GRANULARITIES = ("sample", "batch")


def sample_batch(sampler: Callable, key: jax.Array, batch_size: int, granularity: str = "sample") -> tuple[Mask, Mask]:
  """Masks ``[B, T]`` from a sampler: one per sample, or (``granularity="batch"``, as the reference MTM
  trains) one drawn for the whole batch."""
  if granularity == "batch":
    return jax.tree_util.tree_map(lambda m: jnp.broadcast_to(m, (batch_size,) + m.shape), sampler(key))
  return jax.vmap(sampler)(jax.random.split(key, batch_size))


def apply_presence(visible: Mask, target: Mask, present: Mapping[str, jax.Array]) -> tuple[Mask, Mask]:
  """Forced masks: a modality (or step) a trajectory lacks is never visible and never a target."""
  visible = {name: v & present[name] for name, v in visible.items()}
  target = {name: t & present[name] for name, t in target.items()}
  return visible, target


def fixed(spec: DatasetSpec, T: int, **visible_steps: Sequence[int]) -> Mask:
  """A hand-made ``[T]`` mask, e.g. ``fixed(spec, 10, states=[0, 3, 6])``: listed steps visible.

  Only the named modalities appear; predict treats every other one as hidden.
  """
  mask = {}
  for name, steps in visible_steps.items():
    spec[name]  # raises a clear KeyError for an unknown modality
    mask[name] = jnp.zeros((T,), bool).at[jnp.asarray(list(steps), jnp.int32)].set(True)
  return mask
