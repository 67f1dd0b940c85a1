"""Maze2D against the Uni[MASK] reference code: each difference that could matter, tested alone.

python experiments/maze_audit.py [--changes=baseline,no_dropout,d4rl_waypoints+steps_x8,...] [--seeds=3] [--out runs/maze_audit]

The model is the cheapest one that shows the copycat gap: single-task BC with past actions, K=5,
trained with the small study's recipe (reproduce_maze.py --scale small). Each change in CHANGES is one
row of results/maze_small/AUDIT.md, applied on its own (``a+b`` applies several together); every
model is rolled out from the study's 1,000 evaluation starts. Re-running resumes: trained models are
kept and returns are read back from OUT/returns.json. Writes OUT/effects.md. --seeds and --out are
reproduce_maze.py's flags (default 3 seeds, runs/maze_audit); its other flags do not apply here.
"""

from experiments import cli
from studies import maze_audit

if __name__ == "__main__":
  cli.run(maze_audit.main)
