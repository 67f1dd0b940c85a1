"""Maze2D against the Uni[MASK] reference code: each difference that could matter, tested alone.

python -m experiments.maze_audit [--changes=baseline,no_dropout,d4rl_waypoints+steps_x8,...] [--seeds=3] [--out runs/maze_audit]

The model is the cheapest one that shows the copycat gap: single-task BC with past actions, K=5,
trained with the small study's recipe (reproduce_maze --scale small). Each change in CHANGES is one
row of results/maze_small/AUDIT.md, applied on its own (``a+b`` applies several together); every
model is rolled out from the study's 1,000 evaluation starts. Re-running resumes: trained models are
kept and returns are read back from OUT/results.json. Writes OUT/report.md.
"""

import functools
import os
import time
from collections.abc import Callable

import jax
import minari
import numpy as np

from mtm_jax import seeds
from mtm_jax.checkpoint import load_checkpoint, manager
from mtm_jax.datagen import pointmaze as dataset
from mtm_jax.envs import rollout
from mtm_jax.envs.score import mean_se
from mtm_jax.errors import UserError
from mtm_jax.eval import pointmaze as evaluation
from mtm_jax.predict import make_predict
from studies import harness
from studies import maze as maze_study
from studies.report import markdown_table

VARIANT, CONTEXT = "bc", 5
SELECTION_SEED = seeds.reset_seeds("validation", 1)[0]  # best_checkpoint picks on these resets, never on reported ones
SELECTION_EPISODES, SAVED_CHECKPOINTS = 100, 8


def _set(**values):
  """A config edit; keys name SECTION__FIELD."""
  return lambda c: c.update_from_flattened_dict({key.replace("__", "."): value for key, value in values.items()})


def _steps(n):
  return _set(train__num_steps=n, train__checkpoint_every=n)


def _hide_past_actions(c):
  c.masks.task_params[VARIANT] = {"past_actions": False}


# name -> (what changes, toward the reference; config edit; waypoint rule of the data; pick the best checkpoint)
CHANGES = {
  "baseline": ("ours, as in the small study before this audit", None, "cell", False),
  "no_dropout": ("dropout 0.1 -> 0 (the reference trains without dropout)", _set(model__dropout=0.0), "cell", False),
  "reference_optimizer": (
    "constant lr 1e-4 (no warmup, no decay), weight decay 1e-4, clip 0.5",
    _set(
      train__learning_rate=1e-4,
      train__warmup_steps=0,
      train__final_lr_fraction=1.0,
      train__weight_decay=1e-4,
      train__grad_clip=0.5,
    ),
    "cell",
    False,
  ),
  "d4rl_waypoints": (
    "data from D4RL's waypoint rule (each jittered waypoint reached within 0.1 before the next)",
    None,
    "d4rl",
    False,
  ),
  "best_checkpoint": (
    f"the best of {SAVED_CHECKPOINTS} checkpoints on {SELECTION_EPISODES} selection episodes (the reference's save_best=rew)",
    None,
    "cell",
    True,
  ),
  "reference_shape": (
    "width 128, 4 layers, 16 heads, MLP ratio 1, batch 100 (the reference's network)",
    _set(model__width=128, model__encoder_layers=4, model__num_heads=16, model__mlp_ratio=1, train__batch_size=100),
    "cell",
    False,
  ),
  "steps_x4": ("16,000 steps instead of 4,000 (the reference: ~216,000 at batch 100)", _steps(16_000), "cell", False),
  "steps_x8": ("32,000 steps instead of 4,000", _steps(32_000), "cell", False),
  "steps_x32": ("128,000 steps instead of 4,000", _steps(128_000), "cell", False),
  # Not a difference from the reference: the study's probe for copycat policies, for comparison.
  "state_only_history": ("past actions hidden in training and rollouts", _hide_past_actions, "cell", False),
}


def combined(change: str) -> tuple[str, list, str, bool]:
  """(what, config edits, waypoint rule, pick the best checkpoint) of ``a`` or ``a+b+...``."""
  parts = [CHANGES[name] for name in change.split("+")]
  rules = {rule for _, _, rule, _ in parts} - {"cell"}
  return (
    "; ".join(what for what, *_ in parts),
    [edit for _, edit, _, _ in parts if edit is not None],
    rules.pop() if rules else "cell",
    any(best for *_, best in parts),
  )


def make_config(change: str, seed: int):
  _, edits, rule, best = combined(change)
  c = maze_study.config(VARIANT, CONTEXT, seed, "small")
  # The baseline is the small study's recipe from before this audit, so that this table still reproduces.
  c.model.dropout = 0.1
  c.data.dataset_id = dataset.DATASET_IDS[rule]
  for edit in edits:
    edit(c)
  if best:
    c.train.checkpoint_every = c.train.num_steps // SAVED_CHECKPOINTS
    c.train.keep_checkpoints = SAVED_CHECKPOINTS
  return c


def mean_return(workdir, envs, starts, step=None) -> tuple[float, float]:
  """(mean return, success rate) of the BC policy at a checkpoint (default the last)."""
  ckpt = load_checkpoint(workdir, step)
  act = rollout.make_act(make_predict(ckpt.config), CONTEXT, "bc", "first", rollout.past_actions_seen(ckpt.config.masks, "bc"))
  params = jax.tree_util.tree_map(jax.numpy.asarray, ckpt.params)
  episodes = evaluation.rollout(act, params, CONTEXT, envs, starts)
  return float(episodes["returns"].mean()), float(episodes["success"].mean())


def best_step(workdir, envs, starts) -> int:
  steps = sorted(manager(workdir, read_only=True).all_steps())
  return max(steps, key=lambda s: mean_return(workdir, envs, starts, s)[0])


class MazeAudit:
  """The audit in ``out`` (default runs/maze_audit): each of ``changes`` trained and rolled out for ``seeds`` seeds."""

  def __init__(self, out: str | None = None, changes=tuple(CHANGES), seeds: int = 3, log: Callable = harness.echo):
    unknown = [c for c in changes if any(part not in CHANGES for part in c.split("+"))]
    if unknown:
      raise UserError(f"unknown change(s) {unknown}; choose from {list(CHANGES)}, or several joined by '+'")
    # at the small study's scale: a folder made with another recipe is refused
    self.harness = harness.Harness(out or os.path.join("runs", "maze_audit"), "small", maze_study.SCALES, log=log)
    self.changes, self.seeds, self.log = list(changes), list(range(seeds)), log

  def run(self) -> str:
    """Trains and rolls out what is missing and writes OUT/report.md; returns its path."""
    starts = evaluation.fresh_starts(range(maze_study.EVAL_SEED, maze_study.EVAL_SEED + 1000))
    envs = evaluation.make_envs(len(starts))
    selection = evaluation.fresh_starts(range(SELECTION_SEED, SELECTION_SEED + SELECTION_EPISODES))
    for change in self.changes:
      rule = combined(change)[2]
      if dataset.DATASET_IDS[rule] not in minari.list_local_datasets():
        dataset.write(dataset.DATASET_IDS[rule], num_episodes=1000, noise=0.5, seed=0, waypoints=rule)
      for seed in self.seeds:
        started = time.time()
        workdir = self.harness.trained("training", f"{change}_seed{seed}", make_config(change, seed))
        measure = functools.partial(self.measure, change, seed, workdir, started, envs, starts, selection)
        self.harness.measured(f"{change}|{seed}", measure)
    return write_report(self.harness)

  def measure(self, change, seed, workdir, started, envs, starts, selection) -> dict:
    """{"return", "success", "step", "seconds" since ``started``} of a trained model's BC rollouts from ``starts``,
    from its best checkpoint on the ``selection`` starts where the change picks one."""
    rollouts = time.time()
    step = best_step(workdir, envs[: len(selection)], selection) if combined(change)[3] else None
    ret, success = mean_return(workdir, envs, starts, step)
    self.harness.spent("rollouts", rollouts)
    self.log(f"{change} seed {seed}: mean return {ret:.3f}, success {success:.3f} ({time.time() - started:.0f}s)")
    return {"return": ret, "success": success, "step": step, "seconds": time.time() - started}


def write_report(study: harness.Harness) -> str:
  """OUT/report.md: every change (or combination) tried, over all its seeds, the single changes first."""
  results = {key: v for key, v in study.results.items() if "|" in key}

  def runs(change):
    return [v for key, v in results.items() if key.split("|")[0] == change]

  def cell(change, field):
    values = [run[field] for run in runs(change)]
    return mean_se(values) if values else None

  base = cell("baseline", "return")
  rows = []
  tried = list(dict.fromkeys([*CHANGES, *(key.split("|")[0] for key in results)]))
  for change in tried:
    what = combined(change)[0]
    ret, success = cell(change, "return"), cell(change, "success")
    if ret is None:
      continue
    minutes = np.mean([run["seconds"] for run in runs(change)]) / 60
    delta = f"{ret[0] - base[0]:+.3f}" if base else "n/a"
    rows.append([change, what, len(runs(change)), f"{ret[0]:.3f} ± {ret[1]:.3f}", delta, f"{success[0]:.3f}", f"{minutes:.1f}"])
  text = [
    f"# One change at a time: single-task BC with past actions, K={CONTEXT}",
    "Small-study recipe otherwise; 1,000 evaluation episodes per model (the study's starts); "
    "mean return ± standard error over seeds; Δ against the baseline row; min/model: training and evaluation.",
    markdown_table(["change", "what", "seeds", "BC K=5 return", "Δ", "success", "min/model"], rows),
  ]
  return study.write_report(text)
