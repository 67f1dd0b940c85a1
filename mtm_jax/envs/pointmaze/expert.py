"""The Maze2D expert: a shortest cell path to the target, a PD controller towards a waypoint on it
(it may read the true velocity), and clipped Gaussian action noise.

Two waypoint rules. ``"cell"`` (the default) heads for the next cell's centre as soon as the point is
in a cell, so it cuts corners. ``"d4rl"`` follows D4RL's WaypointController, which Uni[MASK]'s data
generator uses: a plan fixed at the episode start, each waypoint reached within ``radius`` before the
next, so the point slows down at every cell it passes. D4RL subtracts U(0, 0.2) from each waypoint
but the target, in coordinates where its particle sits 0.2 cell past the cell centre in row and
column; against the walls its waypoints therefore lie U(0, 0.2) cell past the centre, as here.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mtm_jax.envs.pointmaze import maze

WAYPOINT_RULES = ("cell", "d4rl")


@dataclasses.dataclass
class Plan:
  """One episode's waypoints under the ``d4rl`` rule and the index of the one being followed."""

  waypoints: list[np.ndarray]
  index: int = 0


@dataclasses.dataclass(frozen=True)
class Expert:
  kp: float = 10.0  # proportional gain on the position error
  kd: float = 1.0  # derivative gain on the velocity
  noise: float = 0.5  # std of the Gaussian added to every action (then clipped to [-1, 1])
  waypoints: str = "cell"  # a rule of WAYPOINT_RULES
  radius: float = 0.1  # d4rl: a waypoint counts as reached this close (D4RL's solve_thresh)
  jitter: float = 0.2  # d4rl: waypoints other than the target move U(0, jitter) cell towards the higher row, column

  def __post_init__(self):
    if self.waypoints not in WAYPOINT_RULES:
      raise ValueError(f"waypoints must be one of {WAYPOINT_RULES}, got {self.waypoints!r}")

  def plan(self, position, target, rng: np.random.Generator) -> Plan | None:
    """The episode's plan under the ``d4rl`` rule (None under ``cell``, which needs none)."""
    if self.waypoints == "cell":
      return None
    cells = maze.path(maze.cell_of(position), maze.cell_of(target))[1:]
    points = [maze.cell_center(np.asarray(c) + rng.uniform(size=2) * self.jitter) for c in cells[:-1]]
    return Plan(points + [np.asarray(target, np.float64)])

  def waypoint(self, position, target, plan: Plan | None = None) -> np.ndarray:
    """Where the PD controller steers now; under ``d4rl`` this also advances the plan."""
    if plan is not None:
      point = plan.waypoints[plan.index]
      if np.linalg.norm(position - point) < self.radius and plan.index < len(plan.waypoints) - 1:
        plan.index += 1  # D4RL steers to the reached waypoint this step and moves on from the next
      return point
    here, goal = maze.cell_of(position), maze.cell_of(target)
    if here == goal or (here, goal) not in maze.NEXT_HOP:
      return np.asarray(target, np.float64)
    return maze.cell_center(maze.NEXT_HOP[here, goal])

  def act(self, position, velocity, target, rng: np.random.Generator | None = None, plan: Plan | None = None) -> np.ndarray:
    action = self.kp * (self.waypoint(position, target, plan) - position) - self.kd * np.asarray(velocity)
    if rng is not None and self.noise > 0:
      action = action + rng.normal(0.0, self.noise, 2)
    return np.clip(action, -1.0, 1.0).astype(np.float32)
