"""The medium maze's cells: which are free, their centres, and the next cell on a shortest path."""

from __future__ import annotations

import collections

import numpy as np
from gymnasium_robotics.envs.maze.maps import MEDIUM_MAZE

MAZE_MAP = np.asarray(MEDIUM_MAZE, np.int32)  # 1 = wall, 0 = free; [row, col]
SCALING = 1.0  # metres per cell (gymnasium-robotics default)
ROWS, COLS = MAZE_MAP.shape
FREE_CELLS = tuple((r, c) for r in range(ROWS) for c in range(COLS) if MAZE_MAP[r, c] == 0)
_STEPS = ((0, 1), (1, 0), (0, -1), (-1, 0))


def cell_center(cell) -> np.ndarray:
  """(x, y) of a cell's centre: x grows with the column, y shrinks with the row (gymnasium-robotics)."""
  r, c = cell
  return np.array([(c + 0.5) * SCALING - COLS * SCALING / 2, ROWS * SCALING / 2 - (r + 0.5) * SCALING])


def cell_of(xy) -> tuple[int, int]:
  """The (row, col) containing a point."""
  col = int(np.floor((xy[0] + COLS * SCALING / 2) / SCALING))
  row = int(np.floor((ROWS * SCALING / 2 - xy[1]) / SCALING))
  return min(max(row, 0), ROWS - 1), min(max(col, 0), COLS - 1)


def _next_hops() -> dict:
  """{(from, to): next cell} over free cells, by breadth-first search back from every target."""
  hops = {}
  for target in FREE_CELLS:
    hops[target, target] = target
    queue = collections.deque([target])
    while queue:
      cell = queue.popleft()
      for dr, dc in _STEPS:
        prev = (cell[0] + dr, cell[1] + dc)
        if prev in FREE_CELLS and (prev, target) not in hops:
          hops[prev, target] = cell
          queue.append(prev)
  return hops


NEXT_HOP = _next_hops()


def path(start, target) -> list[tuple[int, int]]:
  """The shortest cell path from start to target, both included."""
  cells = [tuple(start)]
  while cells[-1] != tuple(target):
    cells.append(NEXT_HOP[cells[-1], tuple(target)])
  return cells
