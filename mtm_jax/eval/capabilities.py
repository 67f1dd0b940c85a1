"""Held-out error of a model on each prediction capability, in the data's raw units and as MTM reports it.

Forward dynamics is scored on the next state; inverse dynamics, BC and RCBC on the action; beyond the
capabilities, ``imagine`` (rcbc_imagine's first pass) on the later states of the window. Each is the
mean squared error over the target entries of the task's evaluation mask, on evenly spaced held-out
windows (``task_losses.evaluation_masks``: every model scored on the same windows and the same drawn indices;
which tokens are visible is how the task is asked, ``held_out``'s ``asked``).
MTM's versatility table divides that error by the data's mean squared one-step change of the predicted
modality, the error of predicting "no change": for a one-step task 1.0 is as good as repeating the previous
step. ``imagine`` predicts up to T - 1 steps ahead from s[0], where repeating s[0] errs by more: its no-change
yardstick is ``repeat_first``.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from mtm_jax import coverage
from mtm_jax.data import windows
from mtm_jax.errors import UserError
from mtm_jax.eval import task_losses
from mtm_jax.experiment import Experiment
from mtm_jax.spec import ACTIONS, STATES, DatasetSpec

CAPABILITIES = {"forward_dynamics": STATES, "inverse_dynamics": ACTIONS, "bc": ACTIONS, "rcbc": ACTIONS}
# task -> the modality its error is of: the capabilities, and rcbc_imagine's first pass (the later states from s[0]
# and the return), the part of that two-stage control which state-only episodes teach (studies.heteromodal).
SCORED = {**CAPABILITIES, "imagine": STATES}
# How the reference MTM asks the capabilities where it differs from the library's masks: BC and RCBC from the
# current state alone, inverse dynamics from every state of the window (its create_inverse_dynamics_mask).
REFERENCE_ASKED = {"bc": {"history": False}, "rcbc": {"history": False}, "inverse_dynamics": {"all_states": True}}
ASKED = ("covered", "library", "reference")


@dataclasses.dataclass(frozen=True)
class HeldOut:
  batch: dict  # evenly spaced held-out windows (windows.evenly_spaced)
  masks: dict  # {task: (visible, target)}, each {modality: bool [N, T]}
  params: dict  # {task: the mask task's parameters the masks were drawn with}
  asked: dict  # {task: how it is asked, e.g. "bc with history"} (coverage.choose)


def held_out(
  spec: DatasetSpec, validation: windows.WindowData, exp: Experiment, tasks=tuple(CAPABILITIES), asked="covered"
) -> HeldOut:
  """``exp.eval.num_windows`` held-out windows and each task's evaluation masks under ``exp.masks``.

  asked: ``covered`` asks a task that can be asked in several ways (BC with history or from the current
  state alone) the way ``exp``'s training masks cover (coverage.choose); ``library`` with ``exp.masks``'
  parameters; ``reference`` as the reference MTM does (REFERENCE_ASKED); or a dict {task: mask parameters},
  asked with those (an ``index`` among them fixes the drawn index): how another code base asks it.
  ``HeldOut.asked`` says which.
  Windows must lie wholly inside their episodes: an error over padding would mean nothing.
  """
  unknown = sorted(set(tasks) - set(SCORED))
  if unknown:
    raise UserError(f"no held-out error for {unknown}; choose from {sorted(SCORED)}")
  explicit = isinstance(asked, dict)
  if explicit and set(tasks) - set(asked):
    raise UserError(f"asked gives mask parameters for {sorted(asked)}; give them for every task of {sorted(tasks)}")
  if not explicit and asked not in ASKED:
    raise UserError(f"asked={asked!r}: choose from {ASKED}, or give {{task: mask parameters}}")
  batch = windows.evenly_spaced(validation, exp.eval.num_windows, exp.window)
  if not all(bool(np.all(p)) for p in batch["present"].values()):
    raise UserError(
      f"held-out episodes shorter than the window ({exp.window}): hold out longer episodes "
      "(data.num_validation) or use a shorter window"
    )
  if explicit:
    chosen = {t: (asked[t], coverage.describe_params(t, asked[t])) for t in tasks}
  elif asked == "covered":
    training = coverage.TrainingMasks.of(dataclasses.replace(exp, spec=spec))
    chosen = {t: coverage.choose(training, t) for t in tasks}
  else:
    chosen = {}
    for t in tasks:
      params = {**exp.masks.params(t), **(REFERENCE_ASKED.get(t, {}) if asked == "reference" else {})}
      chosen[t] = params, f"{coverage.describe_params(t, params)} ({asked}'s masks)"
  configs = {
    t: dataclasses.replace(exp.masks, task_params={**exp.masks.task_params, t: params}) for t, (params, _) in chosen.items()
  }
  masks = {t: task_losses.evaluation_masks(spec, exp.window, t, batch, exp.eval.seed, configs[t]) for t in tasks}
  return HeldOut(batch, masks, {t: params for t, (params, _) in chosen.items()}, {t: line for t, (_, line) in chosen.items()})


def predict_tasks(predict, params, held: HeldOut, names) -> dict:
  """{task: predict's outputs on the held-out windows under the task's visible mask}."""
  traj = {m: held.batch["traj"][m] for m in names}
  return {t: jax.device_get(predict(params, traj, visible)) for t, (visible, _) in held.masks.items()}


def mse(predictions: dict, held: HeldOut) -> dict:
  """{task: mean squared error in raw units over the target entries of the task's modality}."""
  out = {}
  for task, (_, target) in held.masks.items():
    modality = SCORED[task]
    squared = (np.asarray(predictions[task][modality], np.float64) - np.asarray(held.batch["traj"][modality])) ** 2
    out[task] = float(squared[np.asarray(target[modality])].mean())
  return out


def one_step_change(held: HeldOut, modality: str) -> float:
  """Mean squared change of ``modality`` from one step to the next within the held-out windows."""
  values = np.asarray(held.batch["traj"][modality], np.float64)
  return float(((values[:, 1:] - values[:, :-1]) ** 2).mean())


def relative_to_one_step(errors: dict, held: HeldOut) -> dict:
  """MTM's normalisation: each task's MSE over the one-step change of its modality."""
  return {t: e / one_step_change(held, SCORED[t]) for t, e in errors.items()}


def repeat_first(held: HeldOut, task: str) -> float:
  """The normalised error of predicting every target of ``task`` as its modality's first entry in the window: the
  no-change yardstick of ``imagine``, whose states lie several steps past the s[0] it is shown."""
  modality = SCORED[task]
  values = np.asarray(held.batch["traj"][modality])
  first = {task: {modality: np.repeat(values[:, :1], values.shape[1], axis=1)}}
  return relative_to_one_step(mse(first, dataclasses.replace(held, masks={task: held.masks[task]})), held)[task]
