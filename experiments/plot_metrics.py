"""Learning curves of one or more runs as one PNG: train loss (smoothed), validation losses and rollout scores.

python experiments/plot_metrics.py runs/sinusoid runs/other [--out curves.png] [--smooth 0.8]

Reads each workdir's metrics.jsonl (training) and eval_metrics.jsonl (experiments/evaluate.py and
rollout.py append to it); the legend names each run by its workdir.
"""

import os

import cli
from absl import flags

from mtm_jax.errors import UserError
from mtm_jax.evaluate import plots
from mtm_jax.run_log import EVAL, TRAIN, read

_OUT = flags.DEFINE_string("out", "learning_curves.png", "PNG to write.")
_SMOOTH = flags.DEFINE_float("smooth", 0.8, "Exponential smoothing of the train loss, in [0, 1) (TensorBoard's).")


def main(*workdirs):
  if not workdirs:
    raise UserError("name at least one run: python experiments/plot_metrics.py RUN [RUN ...]")
  if not 0 <= _SMOOTH.value < 1:
    raise UserError(f"--smooth={_SMOOTH.value} must be in [0, 1)")
  runs = {}
  for workdir in workdirs:
    train, evals = read(workdir, TRAIN), read(workdir, EVAL)
    if not train and not evals:
      raise UserError(f"{workdir!r} has no {TRAIN} or {EVAL}; train a run there first (experiments/train.py)")
    runs[os.path.normpath(workdir)] = (train, evals)
  plots.run_curves(_OUT.value, runs, _SMOOTH.value)
  print(f"wrote {_OUT.value} ({len(runs)} runs)")


if __name__ == "__main__":
  cli.run(main, variadic=True)
