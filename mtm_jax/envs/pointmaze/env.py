"""PointMaze_Medium made partially observable and episodic, as in Uni[MASK]'s Maze2D experiments.

Observation: the point's (x, y) and the target's (x, y); the velocity is left out, so a model
must infer it from context (``info["velocity"]`` keeps it for the expert and for datasets).
Reset: the point at a random free cell plus uniform noise of +-0.3 cell and a small random
velocity; the target at the centre of another random free cell. Reward: the decrease in the
Euclidean distance to the target. Episodes last exactly ``max_steps`` (200) steps. ``reset(options=
{"position", "velocity", "target"})`` recreates a recorded start.
"""

from __future__ import annotations

import contextlib
import os

import gymnasium as gym
import gymnasium_robotics
import numpy as np
from gymnasium import spaces

from mtm_jax.envs.pointmaze import maze

gym.register_envs(gymnasium_robotics)

POSITION_NOISE = 0.3  # cells
INITIAL_SPEED = 0.1  # the initial velocity is uniform in [-0.1, 0.1] per axis
EPISODE_STEPS = 200


class PointMazeNoVelocity(gym.Env):
  metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

  def __init__(self, render_mode: str | None = None, max_steps: int = EPISODE_STEPS):
    self.inner = gym.make(
      "PointMaze_Medium-v3", continuing_task=True, reset_target=False, render_mode=render_mode, max_episode_steps=None
    ).unwrapped
    # gymnasium-robotics writes the maze's MuJoCo XML to a file in the temp folder and never removes it (a file
    # per environment made: a study's rollouts left hundreds); the model is loaded from it by now. Suppressed:
    # a release that removes it itself must not break the environment.
    with contextlib.suppress(FileNotFoundError):
      os.remove(self.inner.tmp_xml_file_path)
    self.render_mode = render_mode
    self.max_steps = max_steps
    self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    self.observation_space = spaces.Box(-np.inf, np.inf, (4,), np.float64)

  def _observe(self) -> np.ndarray:
    return np.concatenate([self.position, self.target])

  @property
  def position(self) -> np.ndarray:
    return self.inner.point_env.data.qpos[:2].copy()

  @property
  def velocity(self) -> np.ndarray:
    return self.inner.point_env.data.qvel[:2].copy()

  def reset(self, *, seed=None, options=None):
    super().reset(seed=seed)
    options = options or {}
    if {"position", "velocity", "target"} - set(options):
      start, goal = self.np_random.choice(len(maze.FREE_CELLS), size=2, replace=False)
      noise = self.np_random.uniform(-POSITION_NOISE, POSITION_NOISE, 2) * maze.SCALING
      position = maze.cell_center(maze.FREE_CELLS[start]) + noise
      velocity = self.np_random.uniform(-INITIAL_SPEED, INITIAL_SPEED, 2)
      target = maze.cell_center(maze.FREE_CELLS[goal])
    else:
      position, velocity, target = (np.asarray(options[k], np.float64) for k in ("position", "velocity", "target"))
    self.inner.reset(seed=int(self.np_random.integers(2**31)))
    self.inner.goal = np.asarray(target, np.float64).copy()
    self.inner.update_target_site_pos()
    self.inner.point_env.set_state(np.asarray(position, np.float64), np.asarray(velocity, np.float64))
    self.target = self.inner.goal.copy()
    self.steps = 0
    self.distance = float(np.linalg.norm(self.position - self.target))
    return self._observe(), {"velocity": self.velocity}

  def step(self, action):
    action = np.clip(np.asarray(action, np.float32), -1.0, 1.0)
    if action.shape != (2,):
      raise ValueError(f"action must have shape (2,), got {np.shape(action)}")
    self.inner.step(action)
    self.steps += 1
    distance = float(np.linalg.norm(self.position - self.target))
    reward, self.distance = self.distance - distance, distance
    info = {"velocity": self.velocity, "success": distance <= 0.45}
    return self._observe(), reward, False, self.steps >= self.max_steps, info

  def render(self):
    return self.inner.render()

  def close(self):
    self.inner.close()
