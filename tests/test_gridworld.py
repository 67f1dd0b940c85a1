"""The key-door gridworld: state contract, MiniGrid vs JAX twin, the data agent, dataset, rollouts."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mtm_jax.envs.gridworld as gw
from mtm_jax.envs.gridworld import agent, functional, layout
from mtm_jax.eval import gridworld as evaluation
from mtm_jax.spec import ACTIONS, CONTINUOUS, DISCRETE, RETURNS, STATES, DatasetSpec, ModalitySpec


def test_state_index_round_trips_and_rejects_unreachable_states():
  assert gw.NUM_STATES == 77  # 8*7 key on the floor + 8 carried (door shut) + 13 door open
  for i in range(gw.NUM_STATES):
    assert gw.encode_state(*gw.decode_state(i)) == i
  assert gw.ACTION_NAMES == ("right", "down", "left", "up")
  with pytest.raises(ValueError, match="not a reachable state"):
    gw.encode_state((4, 4), (1, 1), False)  # right of the wall with the door shut
  with pytest.raises(ValueError, match="outside"):
    gw.decode_state(77)


def test_rules_of_the_room():
  s = gw.encode_state((2, 2), (2, 1), False)
  s, r = functional.step(s, 0)  # right: into the wall column, stays
  assert gw.decode_state(int(s)) == ((2, 2), (2, 1), False) and float(r) == 0
  s, r = functional.step(s, 3)  # up: onto the key, picks it up; one step closer to the goal
  assert gw.decode_state(int(s)) == ((2, 1), None, False) and float(r) == 1
  s, r = functional.step(s, 0)  # right: the locked door opens with the key
  assert gw.decode_state(int(s)) == ((3, 1), None, True) and float(r) == 1
  s, r = functional.step(s, 2)  # left, away from the goal
  assert float(r) == -1
  no_key = gw.encode_state((2, 1), (1, 4), False)
  assert gw.decode_state(int(functional.step(no_key, 0)[0]))[0] == (2, 1)  # locked without the key


def test_jax_twin_matches_minigrid_for_10000_steps():
  env = gym.make(gw.ENV_ID).unwrapped
  episodes, T = 1000, layout.EPISODE_STEPS
  key_reset, key_actions = jax.random.split(jax.random.key(0))
  starts = jax.vmap(functional.reset)(jax.random.split(key_reset, episodes))
  actions = jax.random.randint(key_actions, (episodes, T), 0, 4)

  def twin(start, acts):
    def body(state, action):
      nxt, reward = functional.step(state, action)
      return nxt, (nxt, reward)

    return jax.lax.scan(body, start, acts)[1]

  twin_states, twin_rewards = jax.device_get(jax.jit(jax.vmap(twin))(starts, actions))
  starts, actions = np.asarray(starts), np.asarray(actions)
  for e in range(episodes):
    obs, _ = env.reset(options={"state": int(starts[e])})
    assert obs == starts[e]
    for t in range(T):
      obs, reward, terminated, truncated, _ = env.step(int(actions[e, t]))
      assert (obs, reward) == (twin_states[e, t], twin_rewards[e, t]), (e, t)
      assert not terminated and truncated == (t == T - 1)


def test_both_resets_draw_agent_and_key_uniformly_on_distinct_left_cells():
  twin = np.asarray(jax.vmap(functional.reset)(jax.random.split(jax.random.key(1), 5600)))
  env = gym.make(gw.ENV_ID).unwrapped
  real = np.array([env.reset(seed=i)[0] for i in range(1400)])
  for starts in (twin, real):
    agents, keys, doors = zip(*(gw.decode_state(s) for s in starts))
    assert not any(doors) and all(k is not None and k != a for a, k in zip(agents, keys))
    counts = np.unique(starts, return_counts=True)[1]
    assert len(counts) == 56 and counts.min() > 0.4 * len(starts) / 56


def test_minigrid_env_renders_and_rejects_bad_actions():
  env = gym.make(gw.ENV_ID, render_mode="rgb_array")
  env.reset(seed=0)
  assert env.render().shape[2] == 3
  with pytest.raises(ValueError, match="right, down, left, up"):
    env.unwrapped.step(4)


def test_boltzmann_agent_follows_its_subgoals():
  key_on_floor = gw.encode_state((1, 1), (1, 3), False)  # subgoal: the key, two steps down
  np.testing.assert_allclose(agent.logits(key_on_floor, 2.0), [-2.0, 2.0, 0.0, 0.0])  # left/up are walls: gain 0
  carrying = gw.encode_state((1, 1), None, False)  # subgoal: the door at (3, 1)
  np.testing.assert_allclose(agent.logits(carrying, 1.0), [1.0, -1.0, 0.0, 0.0])
  door_open = gw.encode_state((4, 1), None, True)  # subgoal: the goal at (4, 4)
  np.testing.assert_allclose(agent.logits(door_open, 1.0), [0.0, 1.0, -1.0, 0.0])
  draws = jax.vmap(lambda k: agent.act(k, key_on_floor, 1.0))(jax.random.split(jax.random.key(0), 20000))
  expected = np.exp([-1, 1, 0, 0]) / np.exp([-1, 1, 0, 0]).sum()
  np.testing.assert_allclose(np.bincount(np.asarray(draws), minlength=4) / 20000, expected, atol=0.015)


def test_dataset_round_trips_through_minari(tmp_path, monkeypatch):
  from mtm_jax.data import minari_data
  from mtm_jax.datagen import gridworld as dataset

  monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
  dataset.write("mtmtest/keydoor-v0", num_episodes=20, beta=2.0, seed=3)
  spec, episodes, metadata = minari_data.load("mtmtest/keydoor-v0")
  assert spec[STATES].num_classes == 77 and spec[ACTIONS].num_classes == 4
  made = metadata["generator"]
  assert {k: made[k] for k in ("agent", "beta", "seed", "episodes")} == {
    "agent": "boltzmann",
    "beta": 2.0,
    "seed": 3,
    "episodes": 20,
  }
  assert made["command"].startswith("python -m experiments.make_dataset gridworld --num_episodes=20 --beta=2.0")
  raw = dataset.generate(20, beta=2.0, seed=3)
  assert len(episodes) == 20
  np.testing.assert_array_equal(episodes[5][STATES], raw["observations"][5, :-1])
  np.testing.assert_array_equal(episodes[5]["returns"][:, 0], np.cumsum(raw["rewards"][5][::-1])[::-1])


def _oracle_predict(traj, mask):
  """A stand-in model: log-probs of a near-greedy Boltzmann agent at the newest visible state."""
  t = jnp.sum(mask[ACTIONS], axis=1)  # actions visible before the step being chosen
  state_B = jnp.take_along_axis(traj[STATES], t[:, None], axis=1)[:, 0]
  logits_BxA = jax.vmap(lambda s: agent.logits(s, 50.0))(state_B)
  B, T = traj[STATES].shape
  return {ACTIONS: jnp.broadcast_to(jax.nn.log_softmax(logits_BxA)[:, None], (B, T, 4))}


def test_rollouts_follow_the_twin_and_score_success():
  spec = DatasetSpec(
    (
      ModalitySpec(STATES, DISCRETE, num_classes=77),
      ModalitySpec(ACTIONS, DISCRETE, num_classes=4),
      ModalitySpec(RETURNS, CONTINUOUS, 1),
    )
  )
  seen = []

  def predict(params, traj, mask):
    seen.append((mask[STATES].shape, mask[RETURNS].shape))
    return _oracle_predict(traj, mask)

  for task in evaluation.ROLLOUT_TASKS:
    episodes = jax.device_get(evaluation.make_rollout(predict, spec, task, 64)(None, jax.random.key(2)))
    states, actions, rewards = episodes["states"], episodes["actions"], episodes["rewards"]
    assert states.shape == (64, 11) and actions.shape == (64, 10)
    replay = jax.vmap(lambda s, a: jax.lax.scan(lambda c, x: functional.step(c, x), s, a))(states[:, 0], actions)
    np.testing.assert_array_equal(replay[1], rewards)
    np.testing.assert_array_equal(replay[0], states[:, -1])
    rate = evaluation.success(task, episodes).mean()
    if task in ("bc", "rcbc"):
      assert rate > 0.5  # the greedy subgoal agent mostly gets there in 10 steps
  assert seen[0] == ((64, 10), (64, 10))  # one predict call per step handles every episode


def test_goal_conditions_are_reachable_and_never_the_goal():
  starts = jax.vmap(functional.reset)(jax.random.split(jax.random.key(3), 200))
  cond = jax.vmap(lambda k, s: evaluation.conditions(k, "goal", s))(jax.random.split(jax.random.key(4), 200), starts)
  cells = np.asarray(cond["goal_cell"])
  assert not np.any(np.all(cells == np.asarray(layout.GOAL), axis=1))
  assert len({tuple(c) for c in cells}) > 6


def test_cell_marginals_sum_to_one():
  logp = jax.nn.log_softmax(jax.random.normal(jax.random.key(0), (10, 77)))
  np.testing.assert_allclose(evaluation.cell_marginals(logp).sum(1), 1.0, rtol=1e-5)
