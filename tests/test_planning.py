"""Model-predictive control with the model as policy and value: the layout, the candidates, the choice, the coverage."""

import dataclasses
import importlib.util
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import REPO

from mtm_jax import coverage, masks
from mtm_jax.errors import UserError
from mtm_jax.experiment import parse
from mtm_jax.planning import action_bounds, current_slot, make_planner
from mtm_jax.spec import ACTIONS, CONTINUOUS, RETURNS, STATES, DatasetSpec, ModalitySpec

E, K, DS, DA = 3, 4, 2, 2
BOUNDS = dict(action_low=-np.ones(DA), action_high=np.ones(DA))


def fake_predict(params, traj, mask):
  """Proposes action 0.1 everywhere; values a window by the sum of its visible actions (higher is better)."""
  actions = traj[ACTIONS]
  value = jnp.sum(jnp.where(mask[ACTIONS][..., None], actions, 0.0), axis=(1, 2))
  return {
    STATES: traj[STATES],
    ACTIONS: jnp.full_like(actions, 0.1),
    RETURNS: jnp.broadcast_to(value[:, None, None], traj[RETURNS].shape),
  }


def recording(value_of=None):
  """A fake predict that records (traj, mask) of each pass; the scoring pass's return is value_of(actions)."""
  seen = []

  def predict(params, traj, mask):
    seen.append(({m: np.asarray(v) for m, v in traj.items()}, {m: np.asarray(v) for m, v in mask.items()}))
    out = fake_predict(params, traj, mask)
    if value_of is not None and bool(np.all(np.asarray(mask[ACTIONS]))):  # plan_value shows every action
      out[RETURNS] = jnp.broadcast_to(value_of(traj[ACTIONS])[:, None, None], traj[RETURNS].shape)
    return out

  return predict, seen


def inputs(position):
  """The rollout's window: step j of the window in slot j (states j, actions -0.5 - j), the current step at
  ``position``; 100 steps remaining at the window's first slot."""
  slots = np.arange(K, dtype=np.float32)
  states = np.broadcast_to(slots[None, :, None], (E, K, DS)).copy()
  actions = np.broadcast_to(-0.5 - 0.1 * slots[None, :, None], (E, K, DA)).copy()
  steps = np.broadcast_to(100 - np.arange(K, dtype=np.int32), (E, K)).copy()
  return states, actions, np.zeros((E, K, 1), np.float32), steps, position


def test_one_unperturbed_candidate_is_the_rcbc_proposal():
  act = make_planner(fake_predict, **BOUNDS, num_candidates=1, noise=0.5)
  np.testing.assert_allclose(act(None, *inputs(2)), 0.1)


@pytest.mark.parametrize("policy,position,current", [("all", 3, 1), ("all", 0, 0), ("first", 3, 0)])
def test_candidates_differ_over_the_imagined_horizon(policy, position, current):
  """The current step moves to slot `history` (0 under `first`), history before it; every later slot is a
  candidate action, and candidates differ at each of them."""
  predict, seen = recording()
  with jax.disable_jit():  # the recording predict reads concrete values
    make_planner(predict, **BOUNDS, num_candidates=16, noise=0.5, history=1, return_policy=policy)(None, *inputs(position))
  assert current == current_slot(position, 1, policy)
  (traj, rcbc), (scored, value_mask) = seen
  for name, asked in (("rcbc", rcbc), ("plan_value", value_mask)):
    expected = masks.asked(name, K, 1, policy, index=current)
    assert all(np.array_equal(asked[m][0], np.asarray(expected[m][0])) for m in masks.ROLES), name
  source = position - current  # the rollout slot now at slot 0
  np.testing.assert_array_equal(traj[STATES][0, : current + 1, 0], np.arange(source, position + 1))
  np.testing.assert_array_equal(traj["steps_remaining"][0], 100 - source - np.arange(K))
  candidates = scored[ACTIONS].reshape(E, 16, K, DA)
  history = np.broadcast_to(inputs(position)[1][:, None, source:position], candidates[:, :, :current].shape)
  np.testing.assert_allclose(candidates[:, :, :current], history, rtol=1e-6)  # the past actions, as they were
  differing = [j for j in range(current, K) if np.ptp(candidates[:, :, j], axis=1).min() > 1e-3]
  assert differing == list(range(current, K)) and len(differing) > 1


def test_the_chosen_action_is_the_argmax_of_a_score_set_by_the_last_action():
  """The score reads a return that only the horizon's last action moves: the executed action is the current
  action of the best-scoring candidate, so the choice follows actions after the one it executes."""
  target = jnp.asarray([0.7, -0.4])
  predict, seen = recording(lambda a: -jnp.sum((a[:, -1] - target[None]) ** 2, axis=-1))
  with jax.disable_jit():
    chosen = np.asarray(make_planner(predict, **BOUNDS, num_candidates=64, noise=1.0)(None, *inputs(3)))
  candidates = seen[1][0][ACTIONS].reshape(E, 64, K, DA)
  best = np.argmin(((candidates[:, :, -1] - np.asarray(target)[None, None]) ** 2).sum(-1), axis=1)
  np.testing.assert_array_equal(chosen, candidates[np.arange(E), best, 1])
  assert not np.allclose(chosen, 0.1)  # not the proposal: the search moved it


def test_score_returns_the_candidates_and_values_the_act_chooses_from():
  """act.score (what planner_ranking plays out) draws what act would at the same call: act executes the current
  action of its best-valued candidate."""
  planners = [make_planner(fake_predict, **BOUNDS, num_candidates=16, noise=1.0, seed=3) for _ in range(2)]
  chosen = np.asarray(planners[0](None, *inputs(3)))
  candidates, values, current = (np.asarray(x) for x in planners[1].score(None, *inputs(3)))
  assert candidates.shape == (E, 16, K, DA) and values.shape == (E, 16) and current == 1
  np.testing.assert_allclose(candidates[:, 0, current:], 0.1)  # the first candidate is the proposal
  np.testing.assert_array_equal(chosen, candidates[np.arange(E), values.argmax(axis=1), current])


def test_choices_stay_in_bounds_and_every_call_draws_new_candidates():
  act = make_planner(fake_predict, **BOUNDS, num_candidates=64, noise=2.0)
  chosen = np.asarray(act(None, *inputs(1)))
  assert chosen.shape == (E, DA) and np.all(np.abs(chosen) <= 1.0)
  assert not np.allclose(chosen, np.asarray(act(None, *inputs(1))))


def test_the_default_locomotion_recipe_trains_on_the_planners_masks():
  """Every mask the planner asks (at each position a rollout passes) is drawn in >= 1 % of the training masks."""
  found = importlib.util.spec_from_file_location("locomotion_config", os.path.join(REPO, "configs", "locomotion.py"))
  module = importlib.util.module_from_spec(found)
  found.loader.exec_module(module)
  config = module.get_config("small,hopper,medium")
  spec = DatasetSpec(tuple(ModalitySpec(m, CONTINUOUS, d) for m, d in ((STATES, DS), (ACTIONS, DA), (RETURNS, 1))))
  training = coverage.TrainingMasks.of(dataclasses.replace(parse(config), spec=spec))
  policy = config.masks.return_policy
  for position in range(K):
    predict, seen = recording()
    with jax.disable_jit():
      make_planner(predict, **BOUNDS, num_candidates=2, return_policy=policy)(None, *inputs(position))
    current = int(current_slot(position, 1, policy))
    for (_, asked), task in zip(seen, ("rcbc", "plan_value")):
      _, target = masks.get_task(task)(None, K, masks.ROLES, index=current, return_policy=policy)
      covered = training.coverage({m: asked[m][0] for m in masks.ROLES}, {m: np.asarray(v) for m, v in target.items()})
      assert covered.probability >= coverage.COVERED, (position, task, covered.describe())


def test_bad_settings_are_clear_errors():
  with pytest.raises(UserError, match="num_candidates"):
    make_planner(fake_predict, action_low=-1, action_high=1, num_candidates=0)
  with pytest.raises(UserError, match="no slot of the window"):
    make_planner(fake_predict, **BOUNDS, history=K)(None, *inputs(1))
  import gymnasium as gym

  with pytest.raises(UserError, match="bounded action space"):
    action_bounds(gym.spaces.Box(-np.inf, np.inf, (2,)))
