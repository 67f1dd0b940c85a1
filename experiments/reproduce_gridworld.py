"""The Uni[MASK] gridworld study end to end: data, every regime and seed, loss matrix, rollouts, report.

python -m experiments.reproduce_gridworld --scale small [--out runs/gridworld_small] [--tasks=bc,goal] [--num_train=500]

Scales: smoke (seconds per model, checks the pipeline), small (the demo: under 10 minutes on a
2-core CPU), full (the paper's 6 seeds). Re-running resumes: finished models are kept and their
task losses read back from OUT/results.json. Writes OUT/report.md with its tables and PNGs, and
OUT/configs/ with the config of every model. The study itself is studies.gridworld.
"""

from absl import flags

from configs import gridworld as gridworld_config
from experiments import cli
from studies import gridworld

_SCALE = flags.DEFINE_enum("scale", "small", list(gridworld.SCALES), "How much to train (studies.gridworld.SCALES).")
_OUT = flags.DEFINE_string("out", None, "Output folder (default runs/gridworld_SCALE).")
_SEEDS = flags.DEFINE_integer("seeds", 0, "Seeds per regime; 0 = the scale's default.")
_NUM_TRAIN = flags.DEFINE_integer("num_train", 1000, "Training trajectories (50 / 500 / 1,000 in the paper).")
_BETA = flags.DEFINE_float("beta", 1.0, "Rationality of the data's Boltzmann agent.")
_SAMPLE = flags.DEFINE_bool("sample", False, "Rollouts sample actions instead of taking the argmax.")
_TASKS = flags.DEFINE_list("tasks", list(gridworld_config.TASKS), "Tasks of the study (single-task models, columns).")


def main():
  study = gridworld.GridworldStudy(
    _OUT.value, _SCALE.value, _TASKS.value, _SEEDS.value, num_train=_NUM_TRAIN.value, beta=_BETA.value, sample=_SAMPLE.value
  )
  print(f"wrote {study.run()}")


if __name__ == "__main__":
  cli.run(main)
