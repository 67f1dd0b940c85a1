"""The Maze2D expert: shortest cell path to the target, a PD controller towards the next cell's
centre (it may read the true velocity), and clipped Gaussian action noise."""

from __future__ import annotations

import dataclasses

import numpy as np

from mtm_jax.envs.pointmaze import maze


@dataclasses.dataclass(frozen=True)
class Expert:
  kp: float = 10.0  # proportional gain on the position error
  kd: float = 1.0  # derivative gain on the velocity
  noise: float = 0.5  # std of the Gaussian added to every action (then clipped to [-1, 1])

  def waypoint(self, position, target) -> np.ndarray:
    """The centre of the next cell on a shortest path, or the target itself once in its cell."""
    here, goal = maze.cell_of(position), maze.cell_of(target)
    if here == goal or (here, goal) not in maze.NEXT_HOP:
      return np.asarray(target, np.float64)
    return maze.cell_center(maze.NEXT_HOP[here, goal])

  def act(self, position, velocity, target, rng: np.random.Generator | None = None) -> np.ndarray:
    action = self.kp * (self.waypoint(position, target) - position) - self.kd * np.asarray(velocity)
    if rng is not None and self.noise > 0:
      action = action + rng.normal(0.0, self.noise, 2)
    return np.clip(action, -1.0, 1.0).astype(np.float32)
