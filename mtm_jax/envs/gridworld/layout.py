"""The key-door room: its geometry, the action contract and the categorical state index.

A 6x6 MiniGrid room with a wall border (interior cells x, y in 1..4), a wall down column x=3 with
a locked door at (3, 1), and the goal at (4, 4). Coordinates are MiniGrid's: x grows to the
right, y grows downwards. The state index enumerates every reachable combination of agent cell,
key cell (or carried) and door state; everything here is plain numpy, shared by the MiniGrid
environment and the JAX twin.
"""

from __future__ import annotations

import collections

import numpy as np

SIZE = 6
WALL_X = 3
DOOR = (3, 1)
GOAL = (4, 4)
EPISODE_STEPS = 10
ACTION_NAMES = ("right", "down", "left", "up")  # the public action order
MOVES = np.array([(1, 0), (0, 1), (-1, 0), (0, -1)], np.int32)  # (dx, dy) per action
CARRIED = (0, 0)  # key position of a carried key: a border cell, never a floor cell

START_CELLS = tuple((x, y) for x in (1, 2) for y in range(1, 5))  # agent and key start here
RIGHT_CELLS = tuple((4, y) for y in range(1, 5))
WALKABLE = START_CELLS + (DOOR,) + RIGHT_CELLS


def _enumerate_states() -> list[tuple[tuple[int, int], tuple[int, int], bool]]:
  """Every reachable (agent, key, door_open): key on the floor (door shut), carried, or door open."""
  states = [(a, k, False) for k in START_CELLS for a in START_CELLS if a != k]
  states += [(a, CARRIED, False) for a in START_CELLS]
  states += [(a, CARRIED, True) for a in WALKABLE]
  return states


STATES = _enumerate_states()
NUM_STATES = len(STATES)
NUM_ACTIONS = len(ACTION_NAMES)

# Lookup tables (for the JAX twin and batch decoding).
STATE_AGENT = np.array([s[0] for s in STATES], np.int32)  # [S, 2]
STATE_KEY = np.array([s[1] for s in STATES], np.int32)  # [S, 2]; CARRIED when carried
STATE_DOOR_OPEN = np.array([s[2] for s in STATES], bool)  # [S]
STATE_INDEX = np.full((SIZE, SIZE, SIZE, SIZE, 2), -1, np.int32)  # [ax, ay, kx, ky, door] -> index
for _i, (_a, _k, _d) in enumerate(STATES):
  STATE_INDEX[_a[0], _a[1], _k[0], _k[1], int(_d)] = _i


def encode_state(agent, key, door_open: bool) -> int:
  """State index of agent cell ``(x, y)``, key cell ``(x, y)`` or ``None`` (carried), door state."""
  kx, ky = CARRIED if key is None else key
  index = int(STATE_INDEX[int(agent[0]), int(agent[1]), int(kx), int(ky), int(bool(door_open))])
  if index < 0:
    raise ValueError(f"agent={tuple(agent)}, key={key}, door_open={door_open} is not a reachable state of the key-door room")
  return index


def decode_state(index: int) -> tuple[tuple[int, int], tuple[int, int] | None, bool]:
  """(agent cell, key cell or None when carried, door open) of a state index."""
  if not 0 <= int(index) < NUM_STATES:
    raise ValueError(f"state index {index} is outside 0..{NUM_STATES - 1}")
  agent, key, door_open = STATES[int(index)]
  return agent, (None if key == CARRIED else key), door_open


def _goal_distance() -> np.ndarray:
  """Shortest-path steps to the goal through the doorway (door treated as passable), [SIZE, SIZE]."""
  dist = np.full((SIZE, SIZE), -1, np.int32)
  dist[GOAL] = 0
  queue = collections.deque([GOAL])
  while queue:
    x, y = queue.popleft()
    for dx, dy in MOVES:
      nxt = (x + dx, y + dy)
      if nxt in WALKABLE and dist[nxt] < 0:
        dist[nxt] = dist[x, y] + 1
        queue.append(nxt)
  return dist


GOAL_DISTANCE = _goal_distance()  # indexed [x, y]; -1 off the walkable cells


def cell_index(cell) -> int:
  """Position of a walkable cell in WALKABLE (plots and marginals)."""
  return WALKABLE.index(tuple(int(c) for c in cell))


# [S, len(WALKABLE)] one-hot: which walkable cell the agent occupies in each state.
STATE_TO_CELL = np.zeros((NUM_STATES, len(WALKABLE)), np.float32)
for _i, _a in enumerate(STATE_AGENT):
  STATE_TO_CELL[_i, cell_index(_a)] = 1.0


# What plots need to draw the room.
ROOM = {
  "size": SIZE,
  "walls": tuple((x, y) for x in range(SIZE) for y in range(SIZE) if (x, y) not in WALKABLE),
  "door": DOOR,
  "goal": GOAL,
}
