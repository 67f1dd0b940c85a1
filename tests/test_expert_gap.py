"""The expert gap's teacher forcing: each step asked as a rollout asks it, with the data's past in place of the
policy's own, and scored against the expert's action."""

import gymnasium as gym
import numpy as np

from mtm_jax.eval.expert_gap import teacher_forced
from mtm_jax.spec import ACTIONS, STATES


def test_teacher_forcing_shows_each_step_the_datas_past_only_and_scores_against_the_expert():
  rng = np.random.default_rng(0)
  episodes = [{STATES: rng.normal(size=(n, 3)), ACTIONS: rng.uniform(-1, 1, (n, 2)).astype(np.float32)} for n in (3, 5)]
  expert = lambda states: np.tanh(states[:, :2])  # noqa: E731
  seen = []

  def policy(h, t):  # the expert's own action at the current state, after checking what it was shown
    for i, e in enumerate(episodes):
      if t < len(e[ACTIONS]):
        assert np.array_equal(h.observations[i, t:], np.broadcast_to(e[STATES][t], h.observations[i, t:].shape))
        assert np.array_equal(h.actions[i, :t], e[ACTIONS][:t]) and not h.actions[i, t:].any()  # no future action
        assert h.lengths[i] == t
    seen.append(t)
    return expert(h.observations[:, t])

  model, data = teacher_forced(policy, episodes, gym.spaces.Box(-1.0, 1.0, (2,)), expert)
  assert seen == [0, 1, 2, 3, 4] and model.shape == data.shape == (8,)  # every step of both episodes once
  assert np.allclose(model, 0.0)
  states, actions = (np.concatenate([e[k] for e in episodes]) for k in (STATES, ACTIONS))
  order = [0, 3, 1, 4, 2, 5, 6, 7]  # step by step, the live episodes at each
  assert np.allclose(data, np.mean((actions - expert(states)) ** 2, axis=1)[order])
