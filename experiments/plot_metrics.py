"""Learning curves of one or more runs as one PNG: train loss (smoothed), validation losses and rollout scores.

python -m experiments.plot_metrics runs/sinusoid runs/other [--out curves.png] [--smooth 0.8]

Reads each workdir's metrics.jsonl (training) and eval_metrics.jsonl (experiments/evaluate.py and
rollout.py append to it); the legend names each run by its workdir.
"""

import os

from absl import flags

from experiments import cli
from mtm_jax.errors import UserError
from mtm_jax.eval import plots
from mtm_jax.run_log import EVAL, TRAIN, read

_OUT = flags.DEFINE_string("out", "learning_curves.png", "PNG to write.")
_SMOOTH = flags.DEFINE_float("smooth", 0.8, "Exponential smoothing of the train loss, in [0, 1) (TensorBoard's).")


def main(*workdirs):
  if not workdirs:
    raise UserError("name at least one run: python -m experiments.plot_metrics RUN [RUN ...]")
  if not 0 <= _SMOOTH.value < 1:
    raise UserError(f"--smooth={_SMOOTH.value} must be in [0, 1)")
  runs = {}
  for workdir in workdirs:
    train, evals = read(workdir, TRAIN), read(workdir, EVAL)
    if not train and not evals:
      raise UserError(f"{workdir!r} has no {TRAIN} or {EVAL}; train a run there first (python -m experiments.train)")
    runs[os.path.normpath(workdir)] = (train, evals)
  plots.run_curves(_OUT.value, runs, _SMOOTH.value)
  print(f"wrote {_OUT.value} ({len(runs)} runs)")


if __name__ == "__main__":
  cli.run(main, variadic=True)
