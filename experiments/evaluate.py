"""Validation loss of a trained run on every mask task, printed and written to DIR/eval.json.

python -m experiments.evaluate --workdir runs/sinusoid
"""

import json
import os

import jax
from absl import flags

from experiments import cli
from mtm_jax import coverage, masks
from mtm_jax.checkpoint import load_checkpoint
from mtm_jax.data import windows
from mtm_jax.data.splits import prepare_data
from mtm_jax.eval import plots
from mtm_jax.eval.task_losses import as_metrics, evaluation_masks, task_losses
from mtm_jax.model import build_model
from mtm_jax.predict import make_predict
from mtm_jax.run_log import EVAL, RunLog

_WORKDIR = flags.DEFINE_string("workdir", None, "Workdir of a training run.")
_PLOT_TASK = flags.DEFINE_string("plot_task", "future", "Mask task drawn in reconstruction.png.")
flags.mark_flags_as_required(["workdir"])


def evaluate(workdir: str) -> dict:
  ckpt = load_checkpoint(workdir)
  config, spec = ckpt.config, ckpt.spec
  _, _, val_data, _ = prepare_data(config.data, config.window)
  params = jax.tree_util.tree_map(jax.numpy.asarray, ckpt.params)
  results = task_losses(build_model(config.model, spec, config.window), params, val_data, spec, config, tasks=list(masks.TASKS))
  print(f"validation loss at step {ckpt.step} ({val_data.num_windows} held-out windows, {config.eval.num_windows} scored)")
  for task, value in results.items():
    shown = "n/a (nothing to predict in this dataset)" if value is None else f"{value['loss']:.5f}"
    print(f"  {task:22s} {shown}")
  training = coverage.TrainingMasks.of(config)  # a checkpoint's config holds its spec
  for task in results:
    notice = training.notice(task)
    if notice:
      print(notice)
  with open(os.path.join(workdir, "eval.json"), "w") as f:
    json.dump({"step": ckpt.step, "losses": results}, f, indent=2)
  with RunLog(workdir, EVAL) as log:  # the history across evaluations, for plot_metrics.py and TensorBoard
    log.write(ckpt.step, as_metrics(results))

  batch = windows.evenly_spaced(val_data, 4, config.window)
  visible, _ = evaluation_masks(spec, config.window, _PLOT_TASK.value, batch, config.eval.seed, config.masks)
  out = jax.jit(make_predict(config))(params, batch["traj"], visible)
  name = spec.names[0]
  path = os.path.join(workdir, "reconstruction.png")
  plots.reconstruction(path, batch["traj"][name], out[name], visible[name], f"{name}: '{_PLOT_TASK.value}' mask")
  print(f"wrote {os.path.join(workdir, 'eval.json')} and {path}")
  return results


def main():
  evaluate(_WORKDIR.value)


if __name__ == "__main__":
  cli.run(main)
