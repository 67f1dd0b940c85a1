"""The key-door room as a gymnasium environment built on MiniGrid (registered, renderable).

Observations are the state index of ``layout``; the four actions move the agent right, down,
left and up (absolute moves, not MiniGrid's turn-and-forward). ``reset(options={"state": i})``
starts from a given state, which is how the JAX twin is checked against this environment.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Door, Goal, Key
from minigrid.minigrid_env import MiniGridEnv

from mtm_jax.envs.gridworld import layout


class KeyDoorEnv(MiniGridEnv):
  metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 4}

  def __init__(self, render_mode: str | None = None, max_steps: int = layout.EPISODE_STEPS):
    super().__init__(
      mission_space=MissionSpace(mission_func=lambda: "pick up the key, open the door, reach the goal"),
      grid_size=layout.SIZE,
      max_steps=max_steps,
      see_through_walls=True,
      render_mode=render_mode,
      highlight=False,
    )
    self.action_space = spaces.Discrete(layout.NUM_ACTIONS)
    self.observation_space = spaces.Discrete(layout.NUM_STATES)
    self.reward_range = (-1, 1)
    self._start_state: int | None = None

  def _gen_grid(self, width, height):
    self.grid = Grid(width, height)
    self.grid.wall_rect(0, 0, width, height)
    self.grid.vert_wall(layout.WALL_X, 0)
    self.door = Door("yellow", is_locked=True)
    self.grid.set(*layout.DOOR, self.door)
    self.grid.set(*layout.GOAL, Goal())
    if self._start_state is None:
      cells = layout.START_CELLS
      a, k = self.np_random.choice(len(cells), size=2, replace=False)
      agent, key = cells[a], cells[k]
    else:
      agent, key, door_open = layout.decode_state(self._start_state)
      if door_open or key is None:
        raise ValueError(f"start state {self._start_state} must have the key on the floor and the door locked")
    self.key_pos = tuple(key)
    self.grid.set(*key, Key("yellow"))
    self.agent_pos = tuple(agent)
    self.agent_dir = 0

  def reset(self, *, seed=None, options=None):
    self._start_state = None if options is None else options.get("state")
    super().reset(seed=seed)
    return self.state_index(), {}

  def state_index(self) -> int:
    key = None if self.carrying is not None else self.key_pos
    return layout.encode_state(self.agent_pos, key, self.door.is_open)

  def step(self, action):
    if not self.action_space.contains(action):
      raise ValueError(f"action {action!r} is not one of 0..3 ({', '.join(layout.ACTION_NAMES)})")
    self.step_count += 1
    before = tuple(self.agent_pos)
    target = tuple(int(v) for v in np.add(before, layout.MOVES[int(action)]))
    cell = self.grid.get(*target)
    moves = cell is None or cell.can_overlap()
    if cell is not None and cell.type == "key":
      self.carrying = cell
      self.grid.set(*target, None)
      moves = True
    elif cell is not None and cell.type == "door" and not cell.is_open and self.carrying is not None:
      cell.is_locked, cell.is_open = False, True
      moves = True
    if moves:
      self.agent_pos = target
    self.agent_dir = int(action)  # MiniGrid's direction order is the action order
    reward = float(layout.GOAL_DISTANCE[before] - layout.GOAL_DISTANCE[tuple(self.agent_pos)])
    truncated = self.step_count >= self.max_steps
    if self.render_mode == "human":
      self.render()
    return self.state_index(), reward, False, truncated, {}
