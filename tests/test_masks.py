import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mtm_jax import masks


def pattern(mask):
  return {k: "".join("x" if b else "." for b in np.asarray(v)) for k, v in mask.items()}


KEY = jax.random.key(0)

# (task, index, return_policy) -> (visible, target) on T=5; modalities states, actions, returns, rewards.
EXPECTED = {
  ("bc", 2, "first"): (
    {"states": "xxx..", "actions": "xx...", "returns": ".....", "rewards": "....."},
    {"states": ".....", "actions": "..x..", "returns": ".....", "rewards": "....."},
  ),
  ("rcbc", 2, "first"): (
    {"states": "xxx..", "actions": "xx...", "returns": "x....", "rewards": "....."},
    {"states": ".....", "actions": "..x..", "returns": ".....", "rewards": "....."},
  ),
  ("rcbc", 2, "all"): (
    {"states": "xxx..", "actions": "xx...", "returns": "xxx..", "rewards": "....."},
    {"states": ".....", "actions": "..x..", "returns": ".....", "rewards": "....."},
  ),
  ("goal", 1, "first"): (
    {"states": "xx..x", "actions": "x....", "returns": ".....", "rewards": "....."},
    {"states": ".....", "actions": ".x...", "returns": ".....", "rewards": "....."},
  ),
  ("waypoint", 0, "first"): (
    {"states": "xx.xx", "actions": ".....", "returns": ".....", "rewards": "....."},
    {"states": ".....", "actions": "x....", "returns": ".....", "rewards": "....."},
  ),
  ("future", 2, "first"): (
    {"states": "xx...", "actions": "xx...", "returns": "x....", "rewards": "xx..."},
    {"states": "..xxx", "actions": "..xxx", "returns": ".....", "rewards": "..xxx"},
  ),
  ("future", 2, "all"): (
    {"states": "xx...", "actions": "xx...", "returns": "xx...", "rewards": "xx..."},
    {"states": "..xxx", "actions": "..xxx", "returns": "..xxx", "rewards": "..xxx"},
  ),
  ("past", 3, "first"): (
    {"states": "...xx", "actions": "...xx", "returns": ".....", "rewards": "...xx"},
    {"states": "xxx..", "actions": "xxx..", "returns": ".....", "rewards": "xxx.."},
  ),
  ("forward_dynamics", 1, "first"): (
    {"states": "xx...", "actions": "xx...", "returns": ".....", "rewards": "....."},
    {"states": "..x..", "actions": ".....", "returns": ".....", "rewards": "....."},
  ),
  ("reference_forward_dynamics", 2, "first"): (  # the first 2 states and every action; later states the target
    {"states": "xx...", "actions": "xxxxx", "returns": ".....", "rewards": "....."},
    {"states": "..xxx", "actions": ".....", "returns": ".....", "rewards": "....."},
  ),
  ("reference_forward_dynamics", 0, "first"): (
    {"states": ".....", "actions": "xxxxx", "returns": ".....", "rewards": "....."},
    {"states": "xxxxx", "actions": ".....", "returns": ".....", "rewards": "....."},
  ),
  ("inverse_dynamics", 2, "first"): (
    {"states": "..xx.", "actions": ".....", "returns": ".....", "rewards": "....."},
    {"states": ".....", "actions": "..x..", "returns": ".....", "rewards": "....."},
  ),
  ("backwards_dynamics", 3, "first"): (
    {"states": "...x.", "actions": "..x..", "returns": ".....", "rewards": "....."},
    {"states": "..x..", "actions": ".....", "returns": ".....", "rewards": "....."},
  ),
  ("reconstruct", None, "first"): (
    {"states": "xxxxx", "actions": "xxxxx", "returns": "x....", "rewards": "xxxxx"},
    {"states": "xxxxx", "actions": "xxxxx", "returns": "x....", "rewards": "xxxxx"},
  ),
  ("reconstruct", None, "all"): (
    {"states": "xxxxx", "actions": "xxxxx", "returns": "xxxxx", "rewards": "xxxxx"},
    {"states": "xxxxx", "actions": "xxxxx", "returns": "xxxxx", "rewards": "xxxxx"},
  ),
}


@pytest.mark.parametrize("task,index,policy", list(EXPECTED))
def test_task_patterns(spec, task, index, policy):
  visible, target = masks.get_task(task)(KEY, 5, spec, index=index, return_policy=policy)
  assert (pattern(visible), pattern(target)) == EXPECTED[(task, index, policy)]


def test_state_only_history(spec):
  for task in ("bc", "rcbc"):
    visible, target = masks.get_task(task)(KEY, 5, spec, index=2, past_actions=False)
    assert pattern(visible)["actions"] == "....." and pattern(visible)["states"] == "xxx.."
    assert pattern(target)["actions"] == "..x.."


def test_forward_dynamics_without_past_actions_is_the_references_evaluation(spec):
  visible, target = masks.forward_dynamics(KEY, 5, spec, index=3, past_actions=False)
  assert pattern(visible)["states"] == "xxxx." and pattern(visible)["actions"] == "...x."
  assert pattern(target)["states"] == "....x"


def test_inverse_dynamics_all_states(spec):
  visible, target = masks.inverse_dynamics(KEY, 5, spec, index=1, all_states=True)
  assert pattern(visible)["states"] == "xxxxx" and pattern(target)["actions"] == ".x..."


def test_random_autoregressive_pattern_with_full_keep(spec):
  # keep ratio 1 and mode "returns" at position 2: states hidden from 3, returns and actions from 2.
  visible, target = masks.random_autoregressive(KEY, 5, spec, index=2, keep_ratios=(1.0,), mode_weights=(0.0, 1.0, 0.0))
  assert pattern(visible) == {"states": "xxx..", "actions": "xx...", "returns": "xx...", "rewards": "xxxxx"}
  assert pattern(target) == {"states": "...xx", "actions": "..xxx", "returns": "..xxx", "rewards": "....."}


def test_sampled_indices_cover_range(spec):
  sampler = masks.make_sampler(spec, 5, ["bc"])
  _, target = masks.sample_batch(sampler, KEY, 2000)
  position = np.argmax(np.asarray(target["actions"]), axis=1)
  counts = np.bincount(position, minlength=5)
  assert counts.min() > 300  # uniform over 0..4


def test_random_statistics(spec):
  T, B = 8, 20000
  visible, target = masks.sample_batch(masks.make_sampler(spec, T, ["random"]), KEY, B)
  states = np.asarray(visible["states"])
  # p ~ U(0,1) so each token is visible with probability 1/2 overall.
  assert abs(states.mean() - 0.5) < 0.01
  # Per-sample visible fraction is spread out (p varies per sample): variance of U(0,1) ~ 1/12.
  assert np.asarray(visible["states"]).mean(1).std() > 0.25
  returns = np.asarray(visible["returns"])
  assert abs(returns[:, 0].mean() - 0.5) < 0.02 and not returns[:, 1:].any()
  assert np.array_equal(np.asarray(target["states"]), ~states)
  anything = np.stack([np.asarray(v).any(1) for v in visible.values()]).any(0)
  assert anything.all()


def test_random_can_leave_nothing_visible_when_asked(spec):
  sampler = masks.make_sampler(spec, 2, ["random"], task_params={"random": {"ensure_visible": False}})
  visible, _ = masks.sample_batch(sampler, KEY, 5000)
  anything = np.stack([np.asarray(v).any(1) for v in visible.values()]).any(0)
  assert not anything.all()


def test_random_autoregressive_statistics(sar_spec):
  T, B = 4, 30000
  sampler = masks.make_sampler(sar_spec, T, ["random_autoregressive"], return_policy="all")
  visible, target = masks.sample_batch(sampler, KEY, B)
  v = {k: np.asarray(x) for k, x in visible.items()}
  # Keep ratios 0.7..1.0 on T=4 keep 2-4 tokens per modality; the autoregressive cut at a uniform
  # position hides about half of what is left.
  for k in v:
    assert 0.2 < v[k].mean() < 0.6, (k, v[k].mean())
  # Actions are the most likely mode (0.7) and come last in the order, so they are hidden most.
  assert v["actions"].mean() < v["states"].mean()
  for k in target:
    assert np.array_equal(np.asarray(target[k]), ~v[k])
  anything = np.stack([x.any(1) for x in v.values()]).any(0)
  assert anything.all()


def test_random_autoregressive_mode_frequencies(sar_spec):
  T, B = 6, 30000
  weights = (0.2, 0.1, 0.7)
  fn = lambda k: masks.random_autoregressive(k, T, sar_spec, keep_ratios=(1.0,), mode_weights=weights, ensure_visible=False)
  visible, _ = jax.vmap(fn)(jax.random.split(KEY, B))
  s, r, a = (np.asarray(visible[k]).sum(1) for k in ("states", "returns", "actions"))
  # With everything kept, the cut position p and mode m give: states p+1 (or p if m=states),
  # returns p+1 if m=actions else p, actions p. So mode = states iff s==a, actions iff r==a+1.
  mode_states = s == a
  mode_actions = (r == a + 1) & ~mode_states
  mode_returns = ~mode_states & ~mode_actions
  freqs = [mode_states.mean(), mode_returns.mean(), mode_actions.mean()]
  np.testing.assert_allclose(freqs, weights, atol=0.015)
  # Position uniform over 0..T-1.
  assert np.bincount(a, minlength=T).min() > B / T * 0.85


def test_keep_ratio_per_sample_or_per_modality_and_masks_per_batch(sar_spec):
  T, B = 8, 4000
  # Cut at the last step with actions as the mode: states and returns keep their random counts (2 or 8).
  fn = lambda k, per_modality: masks.random_autoregressive(  # noqa: E731
    k, T, sar_spec, index=T - 1, keep_ratios=(0.25, 1.0), mode_weights=(0, 0, 1), ratio_per_modality=per_modality
  )
  keys = jax.random.split(KEY, B)
  for per_modality in (False, True):
    visible, _ = jax.vmap(lambda k, p=per_modality: fn(k, p))(keys)
    s, r = np.asarray(visible["states"]).sum(1), np.asarray(visible["returns"]).sum(1)
    assert set(np.unique(s)) == set(np.unique(r)) == {2, 8}
    assert np.mean(s != r) == 0 if not per_modality else 0.45 < np.mean(s != r) < 0.55
  sampler = masks.make_sampler(sar_spec, T, ["random_autoregressive"], return_policy="all")
  visible, target = masks.sample_batch(sampler, KEY, 16, granularity="batch")
  for m in (*visible.values(), *target.values()):
    assert m.shape == (16, T) and (np.asarray(m) == np.asarray(m[:1])).all()


def test_multi_task_sampler_frequencies(spec):
  sampler = masks.make_sampler(spec, 5, ["bc", "forward_dynamics"], weights=[3, 1])
  _, target = masks.sample_batch(sampler, KEY, 8000)
  is_bc = np.asarray(target["actions"]).any(1)
  assert abs(is_bc.mean() - 0.75) < 0.02


def test_presence_forces_masks(spec):
  visible, target = masks.sample_batch(masks.make_sampler(spec, 5, ["reconstruct"]), KEY, 3)
  present = {k: jnp.ones((3, 5), bool) for k in visible}
  present["actions"] = jnp.zeros((3, 5), bool)  # a state-only trajectory
  visible, target = masks.apply_presence(visible, target, present)
  assert not np.asarray(visible["actions"]).any() and not np.asarray(target["actions"]).any()
  assert np.asarray(visible["states"]).all()


def test_jit_and_errors(spec):
  sampler = masks.make_sampler(spec, 5, ["random_autoregressive", "goal"], return_policy="all")
  visible, _ = jax.jit(lambda k: masks.sample_batch(sampler, k, 4))(KEY)
  assert visible["states"].shape == (4, 5)
  with pytest.raises(ValueError, match="unknown mask task 'nope'"):
    masks.make_sampler(spec, 5, ["nope"])
  with pytest.raises(ValueError, match="return_policy"):
    masks.make_sampler(spec, 5, ["bc"], return_policy="some")
  with pytest.raises(ValueError, match="at least 2 steps"):
    masks.make_sampler(spec, 1, ["goal"])
  with pytest.raises(ValueError, match="not in the task list"):
    masks.make_sampler(spec, 5, ["bc"], task_params={"random": {}})


def test_fixed_mask(spec):
  mask = masks.fixed(spec, 10, states=[0, 3, 6])
  assert pattern(mask) == {"states": "x..x..x..."}
  with pytest.raises(KeyError, match="unknown modality"):
    masks.fixed(spec, 10, goals=[0])
