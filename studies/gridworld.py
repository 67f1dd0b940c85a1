"""The Uni[MASK] gridworld study end to end: data, every regime and seed, loss matrix, rollouts, report.

python -m experiments.reproduce_gridworld --scale small [--out runs/gridworld_small]

Scales: smoke (seconds per model, checks the pipeline), small (the demo: under 10 minutes on a
2-core CPU), full (the paper's 6 seeds). Re-running resumes: finished models are kept and only
their evaluations are read back. Writes OUT/report.md with its tables and PNGs.
"""

import csv
import json
import os
import time

import jax
import numpy as np
from absl import flags

from configs import gridworld as gridworld_config
from mtm_jax.checkpoint import load_checkpoint
from mtm_jax.data import windows
from mtm_jax.data.splits import prepare_data
from mtm_jax.datagen import gridworld as dataset
from mtm_jax.envs.gridworld import agent, layout
from mtm_jax.errors import UserError
from mtm_jax.eval import gridworld as evaluation
from mtm_jax.eval import loss_matrix, plots
from mtm_jax.eval.task_losses import make_scorer, task_losses
from mtm_jax.masks import fixed
from mtm_jax.model import build_model
from mtm_jax.predict import make_predict
from mtm_jax.train import train_and_evaluate
from studies import harness

SCALES = {
  # seeds, pretraining / single / multi steps, finetune steps, model width and layers, rollout episodes
  "smoke": dict(seeds=1, steps=30, finetune_steps=15, width=32, layers=1, batch=16, episodes=200),
  "small": dict(seeds=2, steps=1500, finetune_steps=500, width=64, layers=2, batch=32, episodes=1000),
  "full": dict(seeds=6, steps=10000, finetune_steps=3000, width=64, layers=2, batch=32, episodes=1000),
}
ROLLOUT_MODELS = ("random", "finetune", "single_task", "multi_task")

_SCALE = flags.DEFINE_enum("scale", "small", list(SCALES), "How much to train (see SCALES).")
_OUT = flags.DEFINE_string("out", None, "Output folder (default runs/gridworld_SCALE).")
_SEEDS = flags.DEFINE_integer("seeds", 0, "Seeds per regime; 0 = the scale's default.")
_NUM_TRAIN = flags.DEFINE_integer("num_train", 1000, "Training trajectories (50 / 500 / 1,000 in the paper).")
_BETA = flags.DEFINE_float("beta", 1.0, "Rationality of the data's Boltzmann agent.")
_SAMPLE = flags.DEFINE_bool("sample", False, "Rollouts sample actions instead of taking the argmax.")
_TASKS = flags.DEFINE_list("tasks", list(gridworld_config.TASKS), "Tasks of the study (single-task models, columns).")


def study_tasks() -> list[str]:
  unknown = sorted(set(_TASKS.value) - set(gridworld_config.TASKS))
  if unknown or len(_TASKS.value) < 2:
    raise UserError(f"--tasks needs at least two of {list(gridworld_config.TASKS)}; got {_TASKS.value}")
  return list(_TASKS.value)


def variants() -> list[str]:
  """Training order: random first, since every finetune starts from it."""
  tasks = study_tasks()
  return ["random", "multi_task", *tasks, *[f"finetune_{t}" for t in tasks]]


def make_config(variant: str, seed: int, scale: dict, out: str):
  c = gridworld_config.get_config(variant)
  c.data.num_train = _NUM_TRAIN.value
  c.eval.tasks = study_tasks()
  if variant == "multi_task":
    c.masks.tasks = study_tasks()
  return harness.apply_scale(c, variant, seed, scale, workdir(out, "random", seed))


def workdir(out: str, variant: str, seed: int) -> str:
  return os.path.join(out, "models", f"{variant}_seed{seed}")


def train_all(out: str, scale: dict, seeds: list[int]) -> dict:
  """Trains (or finds) every model and scores it on every task; {(variant, seed): {task: loss}}."""
  runs = [(v, s) for s in seeds for v in variants()]
  losses, score, val_data = {}, None, None
  started = time.time()
  for i, (variant, seed) in enumerate(runs):
    config = make_config(variant, seed, scale, out)
    path = workdir(out, variant, seed)
    cached = os.path.join(path, "losses.json")
    if os.path.exists(cached):
      with open(cached) as f:
        losses[variant, seed] = json.load(f)
      continue
    elapsed = time.time() - started
    print(f"[{i + 1}/{len(runs)}] {variant} seed {seed} ({config.train.num_steps} steps; {elapsed:.0f}s so far)", flush=True)
    train_and_evaluate(config, path)
    ckpt = load_checkpoint(path)
    params = jax.tree_util.tree_map(jax.numpy.asarray, ckpt.params)
    if val_data is None:
      _, _, val_data, _ = prepare_data(ckpt.config.data, ckpt.config.window)
      score = make_scorer(build_model(ckpt.config.model, ckpt.spec, ckpt.config.window), ckpt.spec)
    result = task_losses(None, params, val_data, ckpt.spec, ckpt.config, score=score)
    losses[variant, seed] = {t: result[t]["loss"] for t in study_tasks()}
    with open(cached, "w") as f:
      json.dump(losses[variant, seed], f, indent=2)
  return losses


def model_for(row: str, task: str) -> str:
  """The variant that fills a matrix / rollout cell: finetune and single-task rows pick the column's model."""
  if row == "finetune":
    return f"finetune_{task}"
  if row == "single_task":
    return task
  return row


def write_loss_matrix(out: str, losses: dict, seeds: list[int]) -> tuple[list, np.ndarray, np.ndarray]:
  tasks = study_tasks()
  rows = [*tasks, "multi_task", "random", "finetune"]
  raw = np.array([[np.mean([losses[model_for(r, t), s][t] for s in seeds]) for t in tasks] for r in rows])
  normalized = loss_matrix.relative_to_column_best(raw)
  for name, values in (("loss_matrix.csv", raw), ("loss_matrix_normalized.csv", normalized)):
    with open(os.path.join(out, name), "w", newline="") as f:
      writer = csv.writer(f)
      writer.writerow(["model", *tasks])
      writer.writerows([[r, *[f"{v:.6g}" for v in row]] for r, row in zip(rows, values)])
  n = len(seeds)
  plots.matrix(os.path.join(out, "loss_matrix.png"), raw, rows, tasks, f"validation loss (mean of {n} seeds)")
  plots.matrix(
    os.path.join(out, "loss_matrix_normalized.png"),
    normalized,
    rows,
    tasks,
    f"validation loss / column minimum (floor {loss_matrix.COLUMN_FLOOR}), {n} seeds",
    fmt="{:.2f}",
    log=True,
  )
  return rows, raw, normalized


def run_rollouts(out: str, seeds: list[int], episodes: int) -> tuple[dict, dict]:
  """{(row, task): (success rates per seed, mean returns per seed)} and sample episodes of the random model."""
  ckpt = load_checkpoint(workdir(out, "random", seeds[0]))
  predict = make_predict(ckpt.config)
  results, samples = {}, {}
  for task in rollout_tasks():
    act = evaluation.make_rollout(predict, ckpt.spec, task, episodes, sample=_SAMPLE.value)
    for row in ROLLOUT_MODELS:
      rates, returns = [], []
      for seed in seeds:
        params = jax.tree_util.tree_map(jax.numpy.asarray, load_checkpoint(workdir(out, model_for(row, task), seed)).params)
        eps = jax.device_get(act(params, jax.random.key(1000 + seed)))
        rates.append(float(evaluation.success(task, eps).mean()))
        returns.append(float(eps["rewards"].sum(1).mean()))
        if row == "random" and seed == seeds[0]:
          samples[task] = eps
      results[row, task] = (rates, returns)
  return results, samples


def rollout_tasks() -> list[str]:
  """Rollouts need each task's single-task and finetuned models: the study's tasks that can be rolled out."""
  return [t for t in evaluation.ROLLOUT_TASKS if t in study_tasks()]


def data_agent_reference(episodes: int, beta: float) -> dict:
  """The noisy-rational agent itself on the bc criterion (it ignores every conditioning)."""
  eps = jax.device_get(jax.jit(jax.vmap(lambda k: agent.rollout(k, beta)))(jax.random.split(jax.random.key(7), episodes)))
  eps = {"states": eps["observations"], "rewards": eps["rewards"]}
  return {"success": float(evaluation.success("bc", eps).mean()), "return": float(eps["rewards"].sum(1).mean())}


def plot_rollouts(out: str, samples: dict, count: int = 25) -> str:
  panels = {}
  titles = {
    "bc": "behaviour cloning",
    "rcbc": "reward-conditioned (best return)",
    "goal": "goal-conditioned (x: goal)",
    "waypoint": "waypoint-conditioned (x: waypoints)",
  }
  for task, eps in samples.items():
    cells = layout.STATE_AGENT[np.asarray(eps["states"][:count])]
    marks = None
    if task == "goal":
      marks = np.asarray(eps["goal_cell"][:count])[:, None]
    if task == "waypoint":
      marks = layout.STATE_AGENT[np.asarray(eps["waypoints"][:count])]
    panels[titles[task]] = (cells, marks)
  path = os.path.join(out, "rollouts.png")
  plots.grid_paths(path, panels, layout.ROOM)
  return path


def plot_future(out: str, seed: int) -> str:
  """The random model's marginal over the agent's cell at every t given states at t = 0, 3, 6 only (Fig. 6)."""
  ckpt = load_checkpoint(workdir(out, "random", seed))
  _, _, val_data, _ = prepare_data(ckpt.config.data, ckpt.config.window)
  batch = windows.evenly_spaced(val_data, 1, ckpt.config.window)
  observed_steps = (0, 3, 6)
  mask = fixed(ckpt.spec, ckpt.config.window, states=observed_steps)
  params = jax.tree_util.tree_map(jax.numpy.asarray, ckpt.params)
  out_logp = jax.jit(make_predict(ckpt.config))(params, batch["traj"], mask)
  probs = evaluation.cell_marginals(out_logp["states"][0])
  states = np.asarray(batch["traj"]["states"][0])
  observed = {t: tuple(layout.STATE_AGENT[states[t]]) for t in observed_steps}
  path = os.path.join(out, "future_states.png")
  plots.cell_heatmaps(
    path,
    probs,
    layout.WALKABLE,
    observed,
    layout.ROOM,
    "P(agent cell at t | states at t = 0, 3, 6), random-mask model; red: observed cell",
  )
  return path


def _mean_se(values) -> str:
  return "{:.3f} ± {:.3f}".format(*harness.mean_se(values))


def write_report(out, scale_name, scale, seeds, rows, raw, normalized, rollouts, reference, elapsed) -> str:
  tasks, rolled = study_tasks(), rollout_tasks()
  found = loss_matrix.findings(normalized, rows, tasks)
  parts = [
    "# Uni[MASK] gridworld study",
    f"Scale `{scale_name}`: {len(seeds)} seed(s), {scale['steps']} steps per model (finetune {scale['finetune_steps']} "
    f"from the random-mask model), width {scale['width']}, {scale['layers']} layer(s), batch {scale['batch']}; "
    f"{_NUM_TRAIN.value} training trajectories, 1,000 held out; Boltzmann data agent beta={_BETA.value}. "
    f"This invocation took {elapsed / 60:.1f} min (models trained by an earlier one are read back, not retrained).",
    "## Loss matrix (validation loss / column minimum)",
    f"Rows: trained models (`finetune` = random-mask then each column's task); columns: evaluation task on the same "
    f"held-out windows and masks for every model; mean over seeds, then divided by the column minimum (at least "
    f"{loss_matrix.COLUMN_FLOOR}).",
    harness.markdown_table(["model", *tasks], [[r, *[f"{v:.2f}" for v in row]] for r, row in zip(rows, normalized)]),
    "![normalised loss matrix](loss_matrix_normalized.png)",
    "Raw losses (sum over modalities of the mean cross-entropy / MSE of the targets):",
    harness.markdown_table(["model", *tasks], [[r, *[f"{v:.4f}" for v in row]] for r, row in zip(rows, raw)]),
    "![raw loss matrix](loss_matrix.png)",
    "## The paper's findings on this matrix",
    "\n".join(f"- {'holds' if ok else 'does not hold'}: {claim} ({evidence})" for claim, ok, evidence in found),
    f"## Rollouts ({scale['episodes']} episodes per model and seed, JAX twin, "
    f"{'sampled' if _SAMPLE.value else 'argmax'} actions)",
    "Success: bc at the goal after 10 steps; rcbc reached its target (the best return achievable from its start); "
    "goal at the requested cell at t=9; waypoint at all requested states at t=3, 6, 9. Mean ± standard error over seeds.",
    harness.markdown_table(
      ["model", *[f"{t} success" for t in rolled], *[f"{t} return" for t in rolled]],
      [
        [row, *[_mean_se(rollouts[row, t][0]) for t in rolled], *[_mean_se(rollouts[row, t][1]) for t in rolled]]
        for row in ROLLOUT_MODELS
      ],
    ),
    f"The data's noisy-rational agent: bc success {reference['success']:.3f}, mean return {reference['return']:.3f}.",
    "![rollouts of the random-mask model](rollouts.png)",
    "## Future-state distributions",
    "![future states](future_states.png)",
  ]
  path = os.path.join(out, "report.md")
  with open(path, "w") as f:
    f.write("\n\n".join(parts) + "\n")
  return path


def main():
  scale = dict(SCALES[_SCALE.value])
  seeds = list(range(_SEEDS.value or scale["seeds"]))
  out = _OUT.value or os.path.join("runs", f"gridworld_{_SCALE.value}")
  os.makedirs(out, exist_ok=True)
  started = time.time()
  print(f"gridworld study, scale {_SCALE.value}: {len(seeds)} seed(s) x {len(variants())} models -> {out}", flush=True)
  dataset.write(gridworld_config.DATASET_ID, num_episodes=2000, beta=_BETA.value, seed=0)
  losses = train_all(out, scale, seeds)
  rows, raw, normalized = write_loss_matrix(out, losses, seeds)
  print("rollouts and plots", flush=True)
  rollouts, samples = run_rollouts(out, seeds, scale["episodes"])
  plot_rollouts(out, samples)
  plot_future(out, seeds[0])
  reference = data_agent_reference(scale["episodes"], _BETA.value)
  path = write_report(out, _SCALE.value, scale, seeds, rows, raw, normalized, rollouts, reference, time.time() - started)
  print(f"wrote {path} ({(time.time() - started) / 60:.1f} min)")
