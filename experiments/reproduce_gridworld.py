"""The Uni[MASK] gridworld study end to end: data, every regime and seed, loss matrix, rollouts, report.

python experiments/reproduce_gridworld.py --scale small [--out runs/gridworld_small]

Scales: smoke (seconds per model, checks the pipeline), small (the demo: under 10 minutes on a
2-core CPU), full (the paper's 6 seeds). Re-running resumes: finished models are kept and only
their evaluations are read back. Writes OUT/report.md with its tables and PNGs.
"""

from experiments import cli
from studies import gridworld

if __name__ == "__main__":
  cli.run(gridworld.main)
