"""The Uni[MASK] Maze2D study (Table 1): data, every model and seed at context 5 and 10, rollouts, report.

python -m experiments.reproduce_maze --scale small [--out runs/maze_small] [--contexts=5,10] [--before=OLD/results.json]

Scales: smoke (checks the pipeline), small (a CPU afternoon), full (the paper's 5 seeds; meant for
an accelerator). Re-running resumes: trained models are kept, rollouts read back from OUT/results.json.
Return-conditioned episodes aim at 1.2 x the return of the training trajectory whose start
(position and target) is nearest (the paper's rule), and again at 1.0 x (in distribution: 1.2 x asks
for more than any trajectory in the data achieved); the target is decremented by the reward received.
--before puts an earlier run's numbers beside each cell of the table. The study itself is studies.maze.
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
