"""Maze2D against the Uni[MASK] reference code: each difference that could matter, tested alone.

python -m experiments.maze_audit [--changes=baseline,no_dropout,d4rl_waypoints+steps_x8,...] [--seeds=3] [--out runs/maze_audit]

The model is the cheapest one that shows the copycat gap: single-task BC with past actions, K=5,
trained with the small study's recipe (reproduce_maze --scale small). Each change in CHANGES is one
row of results/maze_small/AUDIT.md, applied on its own (``a+b`` applies several together); every
model is rolled out from the study's 1,000 evaluation starts. Re-running resumes: trained models are
kept and returns are read back from OUT/results.json. Writes OUT/report.md. The audit itself is
studies.maze_audit.
"""

from absl import flags

from experiments import cli
from studies import maze_audit

_CHANGES = flags.DEFINE_list(
  "changes", list(maze_audit.CHANGES), f"Changes to test, of {list(maze_audit.CHANGES)}, or several joined by '+'."
)
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds per change.")
_OUT = flags.DEFINE_string("out", None, "Output folder (default runs/maze_audit).")


def main():
  print(f"wrote {maze_audit.MazeAudit(_OUT.value, _CHANGES.value, _SEEDS.value).run()}")


if __name__ == "__main__":
  cli.run(main)
