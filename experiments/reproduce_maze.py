"""The Uni[MASK] Maze2D study (Table 1): data, every model and seed at context 5 and 10, rollouts, report.

python experiments/reproduce_maze.py --scale small [--out runs/maze_small] [--contexts=5,10] [--before=OLD/rollouts.json]

Scales: smoke (checks the pipeline), small (a CPU afternoon), full (the paper's 5 seeds; meant for
an accelerator). Re-running resumes: trained models are kept, rollouts read back from OUT/rollouts.json.
Return-conditioned episodes aim at 1.2 x the return of the training trajectory whose start
(position and target) is nearest (the paper's rule), and again at 1.0 x (in distribution: 1.2 x asks
for more than any trajectory in the data achieved); the target is decremented by the reward received.
--before puts an earlier run's numbers beside each cell of the table.
"""

from experiments import cli
from studies import maze

if __name__ == "__main__":
  cli.run(maze.main)
