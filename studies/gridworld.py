"""The Uni[MASK] gridworld study end to end: data, every regime and seed, loss matrix, rollouts, report.

python -m experiments.reproduce_gridworld --scale small [--out runs/gridworld_small]

Scales: smoke (seconds per model, checks the pipeline), small (the demo: under 10 minutes on a
2-core CPU), full (the paper's 6 seeds). Re-running resumes: finished models are kept and their
task losses read back from OUT/results.json. Writes OUT/report.md with its tables and PNGs.
"""

import csv
import functools
import os
import time

import jax
import numpy as np

from configs import gridworld as gridworld_config
from mtm_jax.checkpoint import load_checkpoint
from mtm_jax.data import windows
from mtm_jax.data.splits import prepare_data
from mtm_jax.datagen import gridworld as dataset
from mtm_jax.envs.gridworld import agent, layout
from mtm_jax.envs.score import mean_se
from mtm_jax.errors import UserError
from mtm_jax.eval import gridworld as evaluation
from mtm_jax.eval import loss_matrix, plots
from mtm_jax.eval.task_losses import make_scorer, task_losses
from mtm_jax.masks import fixed
from mtm_jax.model import build_model
from mtm_jax.predict import make_predict
from studies import harness
from studies.report import markdown_table

SCALES = {  # seeds per regime, rollout episodes; the models' sizes are configs/gridworld.py's at the same scale
  "smoke": dict(seeds=1, episodes=200),
  "small": dict(seeds=2, episodes=1000),
  "full": dict(seeds=6, episodes=1000),
}
ROLLOUT_MODELS = ("random", "finetune", "single_task", "multi_task")


class GridworldStudy:
  """The study in ``out`` (default runs/gridworld_SCALE) at ``scale`` (of SCALES).

  tasks: the study's tasks (single-task models, matrix columns; two or more of the config's TASKS); seeds: per
  regime, 0 = the scale's; num_train: training trajectories (50 / 500 / 1,000 in the paper); beta: rationality of
  the data's Boltzmann agent; sample: rollouts sample actions instead of taking the argmax.
  """

  def __init__(
    self,
    out: str | None,
    scale: str,
    tasks=gridworld_config.TASKS,
    seeds: int = 0,
    num_train: int = 1000,
    beta: float = 1.0,
    sample: bool = False,
    log=harness.echo,
  ):
    unknown = sorted(set(tasks) - set(gridworld_config.TASKS))
    if unknown or len(tasks) < 2:
      raise UserError(f"--tasks needs at least two of {list(gridworld_config.TASKS)}; got {list(tasks)}")
    self.tasks, self.num_train, self.beta, self.sample, self.log = list(tasks), num_train, beta, sample, log
    # the tasks make the multi-task model and the losses cached; the data and its agent, every model
    settings = dict(tasks=self.tasks, num_train=num_train, beta=beta)
    self.harness = harness.Harness(out or os.path.join("runs", f"gridworld_{scale}"), scale, SCALES, settings, log)
    self.out, self.scale = self.harness.out, self.harness.scale
    self.seeds = list(range(seeds or self.scale["seeds"]))
    self._scoring = None  # (held-out windows, scorer), built once for every model

  def variants(self) -> list[str]:
    """Training order: random first, since every finetune starts from it."""
    return ["random", "multi_task", *self.tasks, *[f"finetune_{t}" for t in self.tasks]]

  def config(self, variant: str, seed: int):
    c = gridworld_config.get_config(f"regime={variant},scale={self.harness.scale_name}")
    c.data.num_train = self.num_train
    c.eval.tasks = self.tasks
    if variant == "multi_task":
      c.masks.tasks = self.tasks
    pretrained = self.harness.workdir(f"random_seed{seed}") if variant.startswith("finetune_") else None
    return harness.as_trained(c, seed, pretrained)

  def train_all(self) -> dict:
    """Trains (or finds) every model and scores it on every task; {(variant, seed): {task: loss}}."""
    runs = [(v, s) for s in self.seeds for v in self.variants()]
    losses = {}
    started = time.time()
    for i, (variant, seed) in enumerate(runs):
      config = self.config(variant, seed)
      elapsed = time.time() - started
      announce = f"[{i + 1}/{len(runs)}] {variant} seed {seed} ({config.train.num_steps} steps; {elapsed:.0f}s so far)"
      workdir = self.harness.trained("training", f"{variant}_seed{seed}", config, announce)
      losses[variant, seed] = self.harness.measured(f"losses|{variant}_seed{seed}", functools.partial(self.task_losses, workdir))
    return losses

  def task_losses(self, workdir: str) -> dict:
    """{task: validation loss} of a trained model on the study's tasks."""
    started = time.time()
    ckpt = load_checkpoint(workdir)
    params = jax.tree_util.tree_map(jax.numpy.asarray, ckpt.params)
    if self._scoring is None:
      _, _, val_data, _ = prepare_data(ckpt.config.data, ckpt.config.window)
      self._scoring = val_data, make_scorer(build_model(ckpt.config.model, ckpt.spec, ckpt.config.window), ckpt.spec)
    val_data, score = self._scoring
    result = task_losses(None, params, val_data, ckpt.spec, ckpt.config, score=score)
    self.harness.spent("task losses", started)
    return {t: result[t]["loss"] for t in self.tasks}

  def write_loss_matrix(self, losses: dict) -> tuple[list, np.ndarray, np.ndarray]:
    tasks, seeds = self.tasks, self.seeds
    rows = [*tasks, "multi_task", "random", "finetune"]
    raw = np.array([[np.mean([losses[model_for(r, t), s][t] for s in seeds]) for t in tasks] for r in rows])
    normalized = loss_matrix.relative_to_column_best(raw)
    for name, values in (("loss_matrix.csv", raw), ("loss_matrix_normalized.csv", normalized)):
      with open(os.path.join(self.out, name), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", *tasks])
        writer.writerows([[r, *[f"{v:.6g}" for v in row]] for r, row in zip(rows, values)])
    n = len(seeds)
    plots.matrix(os.path.join(self.out, "loss_matrix.png"), raw, rows, tasks, f"validation loss (mean of {n} seeds)")
    plots.matrix(
      os.path.join(self.out, "loss_matrix_normalized.png"),
      normalized,
      rows,
      tasks,
      f"validation loss / column minimum (floor {loss_matrix.COLUMN_FLOOR}), {n} seeds",
      fmt="{:.2f}",
      log=True,
    )
    return rows, raw, normalized

  def run_rollouts(self) -> tuple[dict, dict]:
    """{(row, task): (success rates per seed, mean returns per seed)} and sample episodes of the random model."""
    started, seeds = time.time(), self.seeds
    ckpt = load_checkpoint(self.harness.workdir(f"random_seed{seeds[0]}"))
    predict = make_predict(ckpt.config)
    results, samples = {}, {}
    for task in self.rollout_tasks():
      act = evaluation.make_rollout(predict, ckpt.spec, task, self.scale["episodes"], sample=self.sample)
      for row in ROLLOUT_MODELS:
        rates, returns = [], []
        for seed in seeds:
          params = load_checkpoint(self.harness.workdir(f"{model_for(row, task)}_seed{seed}")).params
          eps = jax.device_get(act(jax.tree_util.tree_map(jax.numpy.asarray, params), jax.random.key(1000 + seed)))
          rates.append(float(evaluation.success(task, eps).mean()))
          returns.append(float(eps["rewards"].sum(1).mean()))
          if row == "random" and seed == seeds[0]:
            samples[task] = eps
        results[row, task] = (rates, returns)
    self.harness.spent("rollouts", started)
    return results, samples

  def rollout_tasks(self) -> list[str]:
    """Rollouts need each task's single-task and finetuned models: the study's tasks that can be rolled out."""
    return [t for t in evaluation.ROLLOUT_TASKS if t in self.tasks]

  def run(self) -> str:
    """Makes the data, trains and scores every model, rolls them out, and writes OUT/report.md; returns its path."""
    started = time.time()
    models = f"{len(self.seeds)} seed(s) x {len(self.variants())} models"
    self.log(f"gridworld study, scale {self.harness.scale_name}: {models} -> {self.out}")
    dataset.write(gridworld_config.DATASET_ID, num_episodes=2000, beta=self.beta, seed=0)
    rows, raw, normalized = self.write_loss_matrix(self.train_all())
    self.log("rollouts and plots")
    rollouts, samples = self.run_rollouts()
    plot_rollouts(self.out, samples)
    plot_future(self.out, self.harness.workdir(f"random_seed{self.seeds[0]}"))
    reference = data_agent_reference(self.scale["episodes"], self.beta)
    return self.report(rows, raw, normalized, rollouts, reference, time.time() - started)

  def report(self, rows, raw, normalized, rollouts, reference, elapsed) -> str:
    tasks, rolled, scale = self.tasks, self.rollout_tasks(), self.scale
    c, finetune = self.config("random", self.seeds[0]), self.config(f"finetune_{tasks[0]}", self.seeds[0])
    found = loss_matrix.findings(normalized, rows, tasks)
    parts = [
      "# Uni[MASK] gridworld study",
      f"Scale `{self.harness.scale_name}`: {len(self.seeds)} seed(s), {c.train.num_steps} steps per model (finetune "
      f"{finetune.train.num_steps} from the random-mask model), width {c.model.width}, {c.model.encoder_layers} layer(s), "
      f"batch {c.train.batch_size}; {self.num_train} training trajectories, 1,000 held out; Boltzmann data agent "
      f"beta={self.beta}. "
      f"This invocation took {elapsed / 60:.1f} min (models trained by an earlier one are read back, not retrained).",
      "## Loss matrix (validation loss / column minimum)",
      f"Rows: trained models (`finetune` = random-mask then each column's task); columns: evaluation task on the same "
      f"held-out windows and masks for every model; mean over seeds, then divided by the column minimum (at least "
      f"{loss_matrix.COLUMN_FLOOR}).",
      markdown_table(["model", *tasks], [[r, *[f"{v:.2f}" for v in row]] for r, row in zip(rows, normalized)]),
      "![normalised loss matrix](loss_matrix_normalized.png)",
      "Raw losses (sum over modalities of the mean cross-entropy / MSE of the targets):",
      markdown_table(["model", *tasks], [[r, *[f"{v:.4f}" for v in row]] for r, row in zip(rows, raw)]),
      "![raw loss matrix](loss_matrix.png)",
      "## The paper's findings on this matrix",
      "\n".join(f"- {'holds' if ok else 'does not hold'}: {claim} ({evidence})" for claim, ok, evidence in found),
      f"## Rollouts ({scale['episodes']} episodes per model and seed, JAX twin, "
      f"{'sampled' if self.sample else 'argmax'} actions)",
      "Success: bc at the goal after 10 steps; rcbc reached its target (the best return achievable from its start); "
      "goal at the requested cell at t=9; waypoint at all requested states at t=3, 6, 9. Mean ± standard error over seeds.",
      markdown_table(
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
    return self.harness.write_report(parts)


def model_for(row: str, task: str) -> str:
  """The variant that fills a matrix / rollout cell: finetune and single-task rows pick the column's model."""
  if row == "finetune":
    return f"finetune_{task}"
  if row == "single_task":
    return task
  return row


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


def plot_future(out: str, workdir: str) -> str:
  """The random model's (at ``workdir``) marginal over the agent's cell at every t given states at t = 0, 3, 6 only
  (Fig. 6)."""
  ckpt = load_checkpoint(workdir)
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
  return "{:.3f} ± {:.3f}".format(*mean_se(values))
