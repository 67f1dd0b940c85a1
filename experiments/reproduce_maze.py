"""Runs the Uni[MASK] Maze2D study (studies.maze: what it trains, rolls out and reports).

python -m experiments.reproduce_maze --scale small [--out runs/maze_small] [--contexts=5,10] [--before=OLD/results.json]

--before puts an earlier run's numbers beside each cell of the table.
"""

from absl import flags

from experiments import cli
from studies import maze

_SCALE = flags.DEFINE_enum("scale", "small", list(maze.SCALES), "How much to train and roll out (studies.maze.SCALES).")
_OUT = flags.DEFINE_string("out", None, "Output folder (default runs/maze_SCALE).")
_SEEDS = flags.DEFINE_integer("seeds", 0, "Seeds per model; 0 = the scale's default.")
_CONTEXTS = flags.DEFINE_list("contexts", ["5", "10"], "Context lengths K.")
_BEFORE = flags.DEFINE_string("before", None, "An earlier run's results.json (or rollouts.json), shown beside each cell.")


def main():
  print(f"wrote {maze.MazeStudy(_OUT.value, _SCALE.value, _SEEDS.value, _CONTEXTS.value, _BEFORE.value).run()}")


if __name__ == "__main__":
  cli.run(main)
