"""The Maze2D environment (no velocity, 200 steps, distance-decrease reward), its expert, its dataset."""

import os
import tempfile

import gymnasium as gym
import numpy as np
import pytest

import mtm_jax.envs.pointmaze as pm
from mtm_jax.envs.pointmaze import maze
from mtm_jax.envs.pointmaze.env import INITIAL_SPEED, POSITION_NOISE
from mtm_jax.envs.pointmaze.expert import Expert
from mtm_jax.spec import ACTIONS, STATES


def test_cells_and_paths_match_gymnasium_robotics():
  inner = gym.make("PointMaze_Medium-v3").unwrapped
  os.remove(inner.tmp_xml_file_path)  # gymnasium-robotics leaves it in the temp folder
  for cell in maze.FREE_CELLS:
    np.testing.assert_allclose(maze.cell_center(cell), inner.maze.cell_rowcol_to_xy(np.array(cell)))
    assert maze.cell_of(maze.cell_center(cell) + [0.45, -0.45]) == cell
  route = maze.path((1, 1), (6, 6))
  assert route[0] == (1, 1) and route[-1] == (6, 6)
  assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 and maze.MAZE_MAP[b] == 0 for a, b in zip(route, route[1:]))


def test_making_the_environment_leaves_no_file_behind(tmp_path, monkeypatch):
  monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where gymnasium-robotics writes the maze's XML
  env = gym.make(pm.ENV_ID)
  assert os.listdir(tmp_path) == []
  env.reset(seed=0)
  env.step(env.action_space.sample())  # the loaded model runs without its file


def test_reset_observation_reward_and_episode_length():
  env = gym.make(pm.ENV_ID)
  for seed in range(20):
    obs, info = env.reset(seed=seed)
    assert obs.shape == (4,)  # position and target, no velocity
    start, target = maze.cell_of(obs[:2]), maze.cell_of(obs[2:])
    assert start != target and maze.MAZE_MAP[start] == 0
    np.testing.assert_allclose(obs[2:], maze.cell_center(target))
    assert np.all(np.abs(obs[:2] - maze.cell_center(start)) <= POSITION_NOISE + 1e-9)
    assert np.all(np.abs(info["velocity"]) <= INITIAL_SPEED + 1e-9)
  steps, total = 0, 0.0
  start_distance = np.linalg.norm(obs[:2] - obs[2:])
  truncated = False
  while not truncated:
    obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    steps, total = steps + 1, total + reward
    assert not terminated
  assert steps == 200
  np.testing.assert_allclose(total, start_distance - np.linalg.norm(obs[:2] - obs[2:]), atol=1e-9)


def test_recorded_start_is_recreated_exactly():
  env = gym.make(pm.ENV_ID)
  obs, info = env.reset(seed=3)
  actions = np.random.default_rng(0).uniform(-1, 1, (30, 2))
  first = [env.step(a)[0] for a in actions]
  options = {"position": obs[:2], "velocity": info["velocity"], "target": obs[2:]}
  again, _ = env.reset(seed=99, options=options)
  np.testing.assert_array_equal(again, obs)
  np.testing.assert_allclose([env.step(a)[0] for a in actions], first)


def test_noiseless_expert_reaches_most_targets():
  env, expert = gym.make(pm.ENV_ID), Expert(noise=0.0)
  reached = []
  for seed in range(10):
    obs, info = env.reset(seed=seed)
    done = False
    while not done:
      obs, _, _, done, info = env.step(expert.act(obs[:2], info["velocity"], obs[2:]))
    reached.append(info["success"])
  assert np.mean(reached) >= 0.8


def test_d4rl_waypoint_rule_visits_every_jittered_waypoint_in_order():
  """Uni[MASK]'s data come from D4RL's controller: a plan fixed at the start, each waypoint reached
  within the radius before the next, the target last and exact."""
  # stopping at every waypoint is slow: this 7-cell path needs more than the episode's 200 steps
  env, expert = gym.make(pm.ENV_ID, max_steps=400), Expert(noise=0.0, waypoints="d4rl")
  obs, info = env.reset(seed=3)
  plan = expert.plan(obs[:2], obs[2:], np.random.default_rng(0))
  cells = maze.path(maze.cell_of(obs[:2]), maze.cell_of(obs[2:]))[1:]
  assert len(plan.waypoints) == len(cells) and len(cells) >= 2
  np.testing.assert_array_equal(plan.waypoints[-1], obs[2:])
  for point, cell in zip(plan.waypoints[:-1], cells[:-1]):
    shift = point - maze.cell_center(cell)  # up to 0.2 cell towards the higher column (+x) and row (-y)
    assert 0 <= shift[0] <= 0.2 and -0.2 <= shift[1] <= 0
  closest = np.full(len(cells), np.inf)
  done = False
  while not done:
    index = plan.index
    closest[index] = min(closest[index], np.linalg.norm(obs[:2] - plan.waypoints[index]))
    obs, _, _, done, info = env.step(expert.act(obs[:2], info["velocity"], obs[2:], plan=plan))
    assert plan.index in (index, index + 1)
  assert plan.index == len(cells) - 1 and info["success"]
  assert (closest[:-1] < expert.radius).all()  # every waypoint reached, no corner cut
  with pytest.raises(ValueError, match="waypoints must be one of"):
    Expert(waypoints="straight")


def test_dataset_round_trips_through_minari(tmp_path, monkeypatch):
  from mtm_jax.data import minari_data
  from mtm_jax.datagen import pointmaze as dataset

  monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
  written = dataset.write("mtmtest/maze-v0", num_episodes=4, noise=0.5, seed=1)
  spec, episodes, metadata = minari_data.load("mtmtest/maze-v0")
  assert spec[STATES].dim == 4 and spec[ACTIONS].dim == 2 and len(episodes) == 4
  expected = {"seed": 1, "episodes": 4, "kp": 10.0, "kd": 1.0, "noise": 0.5, "waypoints": "d4rl", "radius": 0.1, "jitter": 0.2}
  assert {k: metadata["generator"][k] for k in expected} == expected
  assert metadata["generator"]["command"].endswith("--waypoints=d4rl --seed=1 --dataset_id=mtmtest/maze-v0")
  episode = next(iter(written.iterate_episodes()))
  assert episode.infos["velocity"].shape == (201, 2) and np.all(np.abs(episode.actions) <= 1)


def test_configs_train_decision_gpt_and_mlp(tmp_path, monkeypatch):

  from configs import pointmaze
  from mtm_jax.datagen import pointmaze as dataset
  from mtm_jax.train import train_and_evaluate

  monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
  assert pointmaze.DATASET_ID == dataset.DATASET_ID  # the config trains on the data the study writes
  dataset.write(pointmaze.DATASET_ID, num_episodes=6, noise=0.5, seed=0)
  for variant in ("decision_gpt_rcbc,5", "mlp_rcbc,5"):
    config = pointmaze.get_config(variant)
    config.data.num_validation = 2
    config.model.width, config.model.encoder_layers, config.model.mlp_hidden = 32, 1, (32,)
    config.train.batch_size, config.train.num_steps, config.train.warmup_steps = 8, 3, 1
    config.train.log_every, config.train.checkpoint_every = 1, 3
    state = train_and_evaluate(config, str(tmp_path / variant))
    assert int(state.step) == 3


def test_batched_rollout_feeds_a_sliding_window(tmp_path):
  import jax

  from mtm_jax.envs import rollout
  from mtm_jax.eval import pointmaze as evaluation

  seen = []

  def predict(params, traj, mask):
    # A stand-in policy: push towards the target, from the newest visible state of the window.
    position = mask[STATES].sum(axis=1) - 1
    newest = jax.numpy.take_along_axis(traj[STATES], position[:, None, None], axis=1)
    seen.append(mask[ACTIONS].shape)
    return {ACTIONS: jax.numpy.broadcast_to(newest[..., 2:] - newest[..., :2], traj[ACTIONS].shape)}

  act = rollout.make_act(predict, 5, "rcbc")
  starts = evaluation.fresh_starts(range(3))
  out = evaluation.rollout(act, None, 5, evaluation.make_envs(3), starts, targets=[1.0, 2.0, 3.0])
  assert out["positions"].shape == (3, 201, 2) and out["returns"].shape == (3,)
  np.testing.assert_allclose(out["positions"][:, 0], [s["position"] for s in starts])
  assert np.all(out["returns"] > 0)  # heading for the target shrinks the distance
  assert seen == [(3, 5)]  # traced once: static shapes for every step


def test_rollout_window_carries_enough_to_imitate_the_expert():
  """The expert fed from the window alone (velocity by finite difference of the last two states)
  reaches as many targets through ``rollout`` as with the true velocity: the sliding window keeps
  every state in order, in the slot the policy reads."""
  from mtm_jax.eval import pointmaze as evaluation

  expert, dt = Expert(noise=0.0), gym.make(pm.ENV_ID).unwrapped.inner.point_env.dt

  def act(params, states, actions, returns, steps_remaining, position):
    now, before = states[:, position], states[:, max(position - 1, 0)]
    velocity = (now[:, :2] - before[:, :2]) / dt
    return np.stack([expert.act(s[:2], v, s[2:]) for s, v in zip(now, velocity)])

  starts = evaluation.fresh_starts(range(10))
  out = evaluation.rollout(act, None, 3, evaluation.make_envs(10), starts)
  assert out["success"].mean() >= 0.8


def test_rollouts_through_the_shared_loop_match_the_former_maze_loop():
  """Golden returns from the Maze2D study's own loop (before rollouts moved to ``rollout.run``), for a
  policy that reads the window's states, its first return-to-go and the steps remaining."""
  from mtm_jax.eval import pointmaze as evaluation

  expert, dt = Expert(noise=0.0), gym.make(pm.ENV_ID).unwrapped.inner.point_env.dt

  def act(params, states, actions, returns, steps_remaining, position):
    now, before = states[:, position], states[:, max(position - 1, 0)]
    velocity = (now[:, :2] - before[:, :2]) / dt
    pd = np.stack([expert.act(s[:2], v, s[2:]) for s, v in zip(now, velocity)])
    return pd * np.clip(returns[:, 0], 0.2, 1.0) * (steps_remaining[:, :1] > 0)

  out = evaluation.rollout(act, None, 3, evaluation.make_envs(3), evaluation.fresh_starts(range(3)), targets=[0.5, 1.5, 3.0])
  np.testing.assert_allclose(out["returns"], [3.0319336604023763, 2.098045803704548, 3.2486122571828786], rtol=1e-12)
  assert out["success"].tolist() == [False, True, True]


def test_act_hides_past_actions_for_a_state_only_model():
  import jax.numpy as jnp

  from mtm_jax.envs import rollout

  def predict(params, traj, mask):
    # Reports what it was shown: 0.1 x the visible action slots, 0.1 x the visible state slots.
    counts = jnp.stack([mask[ACTIONS].sum(1), mask[STATES].sum(1)], axis=-1) * 0.1
    return {ACTIONS: jnp.broadcast_to(counts[:, None], traj[ACTIONS].shape)}

  states, actions = jnp.zeros((2, 4, 4)), jnp.ones((2, 4, 2))
  returns, steps = jnp.zeros((2, 4, 1)), jnp.full((2, 4), 200)
  shown = [
    rollout.make_act(predict, 4, "bc", past_actions=past)(None, states, actions, returns, steps, 3) for past in (True, False)
  ]
  np.testing.assert_allclose(shown[0], [[0.3, 0.4]] * 2, atol=1e-6)
  np.testing.assert_allclose(shown[1], [[0.0, 0.4]] * 2, atol=1e-6)
