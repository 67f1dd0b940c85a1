"""Noisy-expert Maze2D data, written as a Minari dataset (velocities kept in the episode infos)."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np

from mtm_jax import seeds
from mtm_jax.data import writer
from mtm_jax.envs.pointmaze import ENV_ID
from mtm_jax.envs.pointmaze.expert import Expert
from mtm_jax.errors import UserError

# One dataset id per waypoint rule of the expert (expert.WAYPOINT_RULES). The study's data follow D4RL's
# rule: they are the data Uni[MASK]'s numbers come from (results/maze_small/AUDIT.md).
DATASET_IDS = {"cell": "mtm_jax/pointmaze-medium-novel-expert-v0", "d4rl": "mtm_jax/pointmaze-medium-novel-d4rl-expert-v0"}
WAYPOINTS = "d4rl"
DATASET_ID = DATASET_IDS[WAYPOINTS]


def run_episode(env: gym.Env, expert: Expert, rng: np.random.Generator, seed: int, options=None) -> dict:
  """One episode: observations [L+1, 4], velocities [L+1, 2], actions [L, 2], rewards [L]."""
  obs, info = env.reset(seed=seed, options=options)
  plan = expert.plan(obs[:2], obs[2:], rng)
  observations, velocities, actions, rewards = [obs], [info["velocity"]], [], []
  done = False
  while not done:
    action = expert.act(obs[:2], info["velocity"], obs[2:], rng, plan)
    obs, reward, terminated, truncated, info = env.step(action)
    observations.append(obs)
    velocities.append(info["velocity"])
    actions.append(action)
    rewards.append(reward)
    done = terminated or truncated
  return {
    "observations": np.asarray(observations),
    "velocities": np.asarray(velocities),
    "actions": np.asarray(actions, np.float32),
    "rewards": np.asarray(rewards),
  }


def generate(num_episodes: int, expert: Expert, seed: int = 0) -> list[dict]:
  env = gym.make(ENV_ID)
  rng = np.random.default_rng(seed)
  return [run_episode(env, expert, rng, seeds.data_seed(seed, i)) for i in range(num_episodes)]


def write(dataset_id: str = DATASET_ID, num_episodes: int = 1000, noise: float = 0.5, seed: int = 0, waypoints: str = WAYPOINTS):
  """Writes (replacing any dataset of that id) the Minari dataset; returns the MinariDataset.

  waypoints: the expert's waypoint rule (``expert.WAYPOINT_RULES``).
  """
  from minari.data_collector import EpisodeBuffer

  if num_episodes < 2:
    raise UserError(f"num_episodes={num_episodes}: a dataset needs at least 2 episodes (train and validation)")
  expert = Expert(noise=noise, waypoints=waypoints)
  episodes = generate(num_episodes, expert, seed)
  buffers = [
    EpisodeBuffer(
      id=i,
      observations=e["observations"],
      actions=e["actions"],
      rewards=e["rewards"].tolist(),
      terminations=[False] * len(e["rewards"]),
      truncations=[False] * (len(e["rewards"]) - 1) + [True],
      infos={"velocity": e["velocities"]},
    )
    for i, e in enumerate(episodes)
  ]
  flags = f" --num_episodes={num_episodes} --noise={noise} --waypoints={waypoints} --seed={seed}"
  return writer.write(
    dataset_id,
    buffers,
    env=ENV_ID,
    algorithm="waypoint-pd-expert",
    code_path="mtm_jax/envs/pointmaze/dataset.py",
    description=f"PointMaze_Medium without velocity, 200-step episodes, waypoint PD expert "
    f"({waypoints} waypoints, noise std {noise}).",
    generator={"seed": seed, "episodes": num_episodes, **dataclasses.asdict(expert)},
    command="python -m experiments.make_dataset pointmaze"
    + flags
    + ("" if dataset_id == DATASET_IDS[waypoints] else f" --dataset_id={dataset_id}"),
  )
