"""Validation loss of a model on every mask task, on fixed held-out windows and fixed masks."""

from __future__ import annotations

import zlib

import jax
import jax.numpy as jnp
import numpy as np

from mtm_jax import masks
from mtm_jax.data import windows
from mtm_jax.experiment import Experiment, MaskConfig
from mtm_jax.loss import token_losses
from mtm_jax.normalization import normalize
from mtm_jax.predict import apply_normalized
from mtm_jax.spec import DatasetSpec


def task_key(seed: int, task: str) -> jax.Array:
  """The same masks for a task in every model's evaluation, keyed by the task's name alone (a checksum of
  it, not its place in masks.TASKS, so adding a task never changes another task's masks)."""
  return jax.random.fold_in(jax.random.key(seed), zlib.crc32(task.encode()) & 0x7FFFFFFF)


def evaluation_masks(
  spec: DatasetSpec, window: int, task: str, batch: dict, seed: int, mask_config: MaskConfig
) -> tuple[dict, dict]:
  sampler = mask_config.sampler(spec, window, [task])
  size = next(iter(batch["present"].values())).shape[0]
  visible, target = masks.sample_batch(sampler, task_key(seed, task), size)
  return masks.apply_presence(visible, target, batch["present"])


def make_scorer(model, spec: DatasetSpec):
  """A jitted (params, batch, visible, target) -> per-modality (loss sum, count) over targets."""

  @jax.jit
  def score(params, batch, visible, target):
    outputs = apply_normalized(model, params, batch["traj"], visible)
    per_token = token_losses(outputs, normalize(batch["traj"], params["norm"]), spec)
    return {k: (jnp.sum(v * target[k]), jnp.sum(target[k])) for k, v in per_token.items()}

  return score


def task_losses(model, params, data: windows.WindowData, spec: DatasetSpec, exp: Experiment, tasks=None, score=None) -> dict:
  """{task: {"loss": sum over modalities of the mean target loss, "<modality>": mean}} (None: nothing scored).

  Scores ``exp.eval``'s windows under ``exp.masks``' task parameters. ``score``: a ``make_scorer`` result
  to reuse across models of one architecture (one compile).
  """
  config = exp.eval
  tasks = list(tasks or config.tasks or masks.TASKS)
  batch = windows.evenly_spaced(data, config.num_windows, exp.window)
  score = score or make_scorer(model, spec)
  size = next(iter(batch["present"].values())).shape[0]
  results = {}
  for task in tasks:
    visible, target = evaluation_masks(spec, exp.window, task, batch, config.seed, exp.masks)
    sums = {m: [0.0, 0.0] for m in spec.names}
    for lo in range(0, size, config.batch_size):
      chunk = jax.tree_util.tree_map(lambda x, lo=lo: x[lo : lo + config.batch_size], (batch, visible, target))
      for m, (total, count) in jax.device_get(score(params, *chunk)).items():
        sums[m][0] += float(total)
        sums[m][1] += float(count)
    per_modality = {m: total / count for m, (total, count) in sums.items() if count > 0}
    results[task] = {"loss": float(np.sum(list(per_modality.values()))), **per_modality} if per_modality else None
  return results


def as_metrics(results: dict) -> dict:
  """``task_losses``' results as run-log scalars (``eval/<task>``), the tasks with nothing scored left out."""
  return {f"eval/{task}": value["loss"] for task, value in results.items() if value is not None}
