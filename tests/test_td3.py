"""TD3 and TD3+BC learning offline from a fixed replay, on a problem whose answer is known."""

import jax
import numpy as np
import pytest

from mtm_jax.agents import replay as replay_lib
from mtm_jax.agents.td3 import TD3, TD3Config


def bandit_episodes(n=2000, seed=0):
  """One-step episodes: any state, a uniform action in [-1, 1], reward 1 - (a - 0.5)^2; the best action is 0.5."""
  rng = np.random.default_rng(seed)
  episodes = []
  for _ in range(n):
    a = rng.uniform(-1, 1, (1, 1))
    episodes.append({"observations": rng.uniform(-1, 1, (2, 2)), "actions": a, "rewards": 1 - (a[:, 0] - 0.5) ** 2,
                     "terminations": [True]})
  return episodes


def test_offline_replay_holds_every_transition_in_order():
  episodes = [{"observations": np.arange(8.0).reshape(4, 2), "actions": np.zeros((3, 1)), "rewards": [1, 2, 3],
               "terminations": [False, False, False]},
              {"observations": np.ones((3, 2)), "actions": np.ones((2, 1)), "rewards": [4, 5], "terminations": [False, True]}]
  r = replay_lib.from_episodes(episodes)
  assert int(r.size) == r.capacity == 5
  np.testing.assert_array_equal(r.rewards, [1, 2, 3, 4, 5])
  np.testing.assert_array_equal(r.next_obs[2], [6, 7])  # an episode's last step reads its final observation
  np.testing.assert_array_equal(r.terminated, [False, False, False, False, True])
  np.testing.assert_array_equal(r.truncated, [False, False, True, False, False])  # ended without termination


@pytest.mark.parametrize("bc_alpha", [0.0, 2.5])
def test_td3_finds_the_best_action_and_td3_bc_stays_nearer_the_data(bc_alpha):
  agent = TD3(TD3Config(hidden=(64, 64), batch_size=128, bc_alpha=bc_alpha), obs_dim=2, action_dim=1)
  replay = replay_lib.from_episodes(bandit_episodes())
  learn = jax.jit(agent.learn, static_argnums=3)
  state = agent.init(jax.random.key(0))
  for i in range(6):
    state, metrics = learn(state, replay, jax.random.key(i + 1), 500)
  action = float(np.mean(agent.act(state.actor, np.random.default_rng(1).uniform(-1, 1, (64, 2)))))
  assert np.isfinite(float(metrics["critic_loss"])) and int(state.step) == 3000
  if bc_alpha == 0:
    assert abs(action - 0.5) < 0.08, action
  else:  # Q is about 1 there, so the actor maximises 2.5 (1 - (a - 0.5)^2) - E(a - a_data)^2: a = 2.5 / 7
    assert abs(action - 2.5 / 7) < 0.08, action


def test_bad_settings_are_refused():
  with pytest.raises(ValueError, match="policy_delay"):
    TD3(TD3Config(policy_delay=0), 2, 1)
