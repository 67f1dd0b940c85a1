"""The shared rollout loop (lock-step, terminations), model policies' windows and targets, normalised scores."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mtm_jax.envs import rollout, score
from mtm_jax.errors import UserError
from mtm_jax.spec import ACTIONS, RETURNS, STATES


class Countdown(gym.Env):
  """Lives 2 + seed % 5 steps, then terminates; reward 1 + action; observation [steps taken, seed]."""

  observation_space = gym.spaces.Box(-np.inf, np.inf, (2,))
  action_space = gym.spaces.Box(-1.0, 1.0, (1,))

  def reset(self, *, seed=None, options=None):
    self.seed_, self.t, self.calls = seed, 0, 0
    return np.array([0.0, seed]), {}

  def step(self, action):
    self.t += 1
    self.calls += 1
    return np.array([self.t, self.seed_]), 1.0 + float(action[0]), self.t >= 2 + self.seed_ % 5, False, {"t": self.t}


def test_run_steps_in_lock_step_and_stops_each_episode_at_its_end():
  envs = [Countdown() for _ in range(4)]
  seen = []

  def policy(history, t):
    seen.append(history.observations[:, t, 0].copy())
    return np.full((len(history.lengths), 1), 0.5)

  out = rollout.run(envs, policy, max_steps=5, seeds=[0, 1, 2, 4])  # lifetimes 2, 3, 4, 6 (the last hits the limit)
  np.testing.assert_array_equal(out.lengths, [2, 3, 4, 5])
  np.testing.assert_array_equal(out.terminated, [True, True, True, False])
  np.testing.assert_allclose(out.returns, 1.5 * out.lengths)
  assert [env.calls for env in envs] == [2, 3, 4, 5]  # an ended episode is not stepped again
  np.testing.assert_array_equal(out.observations[0, :, 0], [0, 1, 2, 2, 2, 2])  # rows past the end repeat the last
  np.testing.assert_array_equal(seen[3], [2, 3, 3, 3])
  episode = out.episode(2)
  assert episode["observations"].shape == (5, 2) and episode["terminations"].tolist() == [False] * 3 + [True]
  assert not rollout.run(envs[3:], policy, max_steps=5, seeds=[4]).episode(0)["terminations"].any()


def test_run_clips_actions_and_checks_its_arguments():
  out = rollout.run([Countdown()], lambda h, t: np.full((1, 1), 7.0), max_steps=3, seeds=[1])
  np.testing.assert_allclose(out.rewards[0], [2.0, 2.0, 2.0])
  with pytest.raises(ValueError, match=r"actions of shape \(1, 2\) at step 0; expected \(1, 1\)"):
    rollout.run([Countdown()], lambda h, t: np.zeros((1, 2)), max_steps=3, seeds=[1])
  with pytest.raises(ValueError, match="one seed and one options entry per environment"):
    rollout.run([Countdown()], lambda h, t: np.zeros((1, 1)), max_steps=3, seeds=[1, 2])


def window_recorder():
  calls = []

  def act(params, states, actions, returns, steps_remaining, position):
    calls.append(
      {"states": states.copy(), "returns": returns[..., 0].copy(), "steps": steps_remaining.copy(), "position": position}
    )
    return np.zeros((states.shape[0], 1))

  return act, calls


@pytest.mark.parametrize("kind", ["sum", "average"])
def test_policy_window_slides_and_targets_follow_the_return_kind(kind):
  act, calls = window_recorder()
  policy = rollout.make_policy(act, None, 3, task="rcbc", targets=[10.0, 20.0], return_kind=kind, horizon=8)
  rollout.run([Countdown(), Countdown()], policy, max_steps=5, seeds=[3, 4])  # rewards of 1 per step
  assert [c["position"] for c in calls] == [0, 1, 2, 2, 2]
  last = calls[-1]  # t = 4: the window holds steps 2, 3, 4
  np.testing.assert_array_equal(last["states"][:, :, 0], [[2, 3, 4], [2, 3, 4]])
  np.testing.assert_array_equal(last["steps"], [[6, 5, 4]] * 2)  # horizon - step
  if kind == "sum":  # the target less the reward received before each step
    np.testing.assert_allclose(last["returns"], [[8, 7, 6], [18, 17, 16]])
  else:  # held constant
    np.testing.assert_allclose(last["returns"], [[10, 10, 10], [20, 20, 20]])


def test_act_masks_for_each_task():
  shown = []

  def predict(params, traj, mask):  # a stand-in model that records the masks it is shown (run without jit)
    shown.append({k: np.asarray(v[0]) for k, v in mask.items()})
    return {
      STATES: traj[STATES] + 1.0,
      RETURNS: traj[RETURNS] * 0 + 5.0,
      ACTIONS: jnp.broadcast_to(traj[STATES][..., :1].sum(axis=1, keepdims=True), traj[ACTIONS].shape),
    }

  inputs = (jnp.ones((1, 3, 2)), jnp.zeros((1, 3, 1)), jnp.zeros((1, 3, 1)), jnp.zeros((1, 3), jnp.int32))
  with jax.disable_jit():
    rollout.make_act(predict, 3, "rcbc", "all")(None, *inputs, 1)
    assert shown[-1][STATES].tolist() == [True, True, False] and shown[-1][ACTIONS].tolist() == [True, False, False]
    assert shown[-1][RETURNS].tolist() == [True, True, False]
    rollout.make_act(predict, 3, "rcbc", "first")(None, *inputs, 2)
    assert shown[-1][RETURNS].tolist() == [True, False, False]
    rollout.make_act(predict, 3, "bc")(None, *inputs, 2)
    assert not shown[-1][RETURNS].any()
    # Two stages: the current state and target alone, then every state and return with the future filled in.
    action = rollout.make_act(predict, 3, "rcbc_imagine")(None, *inputs, 0)
    assert shown[-2][STATES].tolist() == [True, False, False] and shown[-2][RETURNS].tolist() == [True, False, False]
    assert shown[-1][STATES].all() and shown[-1][RETURNS].all() and not shown[-1][ACTIONS].any()
    rollout.make_act(predict, 3, "rcbc_imagine", imagine_returns=False)(None, *inputs, 0)
    assert shown[-1][STATES].all() and not shown[-1][RETURNS].any()  # the reference's inverse-dynamics mask
  np.testing.assert_allclose(action, [[1.0 + 2.0 + 2.0]])  # slot 0 as given, slots 1-2 imagined (1 + 1)


def test_return_target_rules():
  # Three episodes' return tokens: the last a short run whose late tokens peak above every episode's start.
  episodes = [np.array([3.0, 2.0, 1.0]), np.array([2.0, 2.0]), np.array([1.0, 0.0, 10.0])]
  assert rollout.return_target("start:1.0", episodes) == 3.0  # what the best episode holds from its start
  assert rollout.return_target("start:0.5", episodes) == 2.0
  assert rollout.return_target("fraction:1.0", episodes) == 10.0  # the largest token: a late, short average
  assert rollout.return_target("fraction:0.5", episodes) == 5.0
  assert rollout.return_target("fixed:3600", episodes) == 3600.0
  assert rollout.return_target("best:1.2", episodes) == 12.0
  with pytest.raises(UserError, match="use start:Q, fraction:P, fixed:V or best:M"):
    rollout.return_target("max", episodes)
  with pytest.raises(UserError, match=r"quantile Q of start:Q is in \[0, 1\]"):
    rollout.return_target("start:1.1", episodes)


def test_normalised_score_is_d4rls_times_100():
  np.testing.assert_allclose(score.d4rl_score([10.0, 110.0, 60.0], 10.0, 110.0), [0.0, 100.0, 50.0])
  assert score.references({"ref_min_score": -1, "ref_max_score": 3}) == (-1.0, 3.0)
  with pytest.raises(UserError, match="no ref_min_score"):
    score.references({}, "mujoco/x-v0")
  with pytest.raises(UserError, match="ref_max != ref_min"):
    score.d4rl_score([1.0], 2.0, 2.0)
  assert score.mean_se([1.0, 3.0]) == (2.0, 1.0)
