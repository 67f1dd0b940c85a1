"""Model-predictive control with the model as policy and value: the proposal, the candidates, the choice."""

import jax.numpy as jnp
import numpy as np
import pytest

from mtm_jax.errors import UserError
from mtm_jax.planning import action_bounds, make_planner
from mtm_jax.spec import ACTIONS, RETURNS, STATES

E, K, DS, DA = 3, 4, 2, 2


def fake_predict(params, traj, mask):
  """Proposes action 0.1 everywhere; values a window by the sum of its visible actions (higher is better)."""
  actions = traj[ACTIONS]
  value = jnp.sum(jnp.where(mask[ACTIONS][..., None], actions, 0.0), axis=(1, 2))
  return {
    STATES: traj[STATES],
    ACTIONS: jnp.full_like(actions, 0.1),
    RETURNS: jnp.broadcast_to(value[:, None, None], traj[RETURNS].shape),
  }


def inputs(position):
  states = np.zeros((E, K, DS), np.float32)
  actions = np.full((E, K, DA), -0.5, np.float32)  # the past actions, kept as they were
  return states, actions, np.zeros((E, K, 1), np.float32), np.zeros((E, K), np.int32), position


def test_one_unperturbed_candidate_is_the_rcbc_proposal():
  act = make_planner(fake_predict, action_low=-np.ones(DA), action_high=np.ones(DA), num_candidates=1, noise=0.5)
  np.testing.assert_allclose(act(None, *inputs(2)), 0.1)


def test_the_candidate_with_the_highest_predicted_return_is_taken_within_bounds():
  act = make_planner(fake_predict, action_low=-np.ones(DA), action_high=np.ones(DA), num_candidates=64, noise=2.0)
  chosen = np.asarray(act(None, *inputs(1)))
  assert chosen.shape == (E, DA) and np.all(np.abs(chosen) <= 1.0)
  assert np.all(chosen.sum(axis=1) > 0.2)  # better than the proposal's 0.1 + 0.1 under this value
  again = np.asarray(act(None, *inputs(1)))
  assert not np.allclose(chosen, again)  # every call draws new candidates


def test_bad_settings_are_clear_errors():
  with pytest.raises(UserError, match="num_candidates"):
    make_planner(fake_predict, action_low=-1, action_high=1, num_candidates=0)
  import gymnasium as gym

  with pytest.raises(UserError, match="bounded action space"):
    action_bounds(gym.spaces.Box(-np.inf, np.inf, (2,)))
