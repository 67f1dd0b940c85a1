"""The Uni[MASK] Maze2D study (Table 1): data, every model and seed at context 5 and 10, rollouts, report.

python -m experiments.reproduce_maze --scale small [--out runs/maze_small] [--contexts=5,10] [--before=OLD/results.json]

Scales: smoke (checks the pipeline), small (a CPU afternoon), full (the paper's 5 seeds; meant for
an accelerator). Re-running resumes: trained models are kept, rollouts read back from OUT/results.json.
Return-conditioned episodes aim at 1.2 x the return of the training trajectory whose start
(position and target) is nearest (the paper's rule), and again at 1.0 x (in distribution: 1.2 x asks
for more than any trajectory in the data achieved); the target is decremented by the reward received.
``before`` puts an earlier run's numbers (its results.json, or an older run's rollouts.json) beside each cell.
"""

import functools
import os
import time
from collections.abc import Callable

import gymnasium as gym
import jax
import numpy as np

from configs import pointmaze as maze_config
from mtm_jax import data, seeds
from mtm_jax.checkpoint import load_checkpoint
from mtm_jax.data.splits import split_by_config
from mtm_jax.datagen import pointmaze as dataset
from mtm_jax.envs import rollout
from mtm_jax.envs.pointmaze import ENV_ID, maze
from mtm_jax.envs.pointmaze.expert import Expert
from mtm_jax.envs.score import mean_se
from mtm_jax.errors import UserError
from mtm_jax.eval import plots
from mtm_jax.eval import pointmaze as evaluation
from mtm_jax.predict import make_predict
from studies import harness
from studies.report import markdown_table

# seeds per model, expert trajectories generated, rollout episodes; the models' sizes are configs/pointmaze.py's
# at the same scale (full: the Uni[MASK] reference's network)
SCALES = {
  "smoke": dict(seeds=1, data=30, episodes=4),
  "small": dict(seeds=5, data=1000, episodes=1000),
  "full": dict(seeds=5, data=1000, episodes=1000),
}
STATE_ONLY = "single-task, state-only history"
# Table rows: row -> {column task: variant that fills it}.
ROWS = {
  "bc (single-task)": {"bc": "bc"},
  "rcbc (single-task)": {"rcbc": "rcbc"},
  "multi-task": {"bc": "multi_task", "rcbc": "multi_task"},
  "random-mask": {"bc": "random", "rcbc": "random"},
  "finetune": {"bc": "finetune_bc", "rcbc": "finetune_rcbc"},
  "Decision-GPT": {"bc": "decision_gpt_bc", "rcbc": "decision_gpt_rcbc"},
  "MLP": {"bc": "mlp_bc", "rcbc": "mlp_rcbc"},
  # Not in the paper: single-task with the window's past actions hidden, a test for copycat policies.
  STATE_ONLY: {"bc": "states_bc", "rcbc": "states_rcbc"},
}
# Return-conditioned columns: rollout key -> (column name, target scale). "rcbc" is the paper's.
RC_COLUMNS = {"rcbc": ("RCBC", 1.2), "rcbc@1.0": ("RCBC×1.0", 1.0)}
EVAL_SEED = seeds.reset_seeds("reported", 1)[0]  # evaluation episode i resets with EVAL_SEED + i, every model and the expert
# The paper's Table 1 (mean ± standard error over 5 seeds, 1,000 rollouts) for the rows it shares with ours;
# columns BC K=5, RC K=5, BC K=10, RC K=10. Its single-task row is one bc and one rcbc model, as ours.
PAPER = {
  "single-task": ((2.66, 0.03), (2.64, 0.02), (2.47, 0.04), (2.41, 0.05)),
  "multi-task": ((2.65, 0.01), (2.68, 0.01), (2.39, 0.03), (2.39, 0.03)),
  "random-mask": ((2.19, 0.09), (2.20, 0.09), (2.29, 0.07), (2.31, 0.06)),
  "finetune": ((2.67, 0.03), (2.73, 0.01), (2.55, 0.03), (2.61, 0.03)),
  "Decision-GPT": ((2.66, 0.01), (2.32, 0.05), (2.74, 0.01), (2.73, 0.02)),
  "MLP": ((1.68, 0.07), (1.53, 0.08), (1.83, 0.06), (1.88, 0.06)),
}
# The single-task row of each column name.
SINGLE_TASK = {"BC": "bc (single-task)", **{name: "rcbc (single-task)" for name, _ in RC_COLUMNS.values()}}


def variants() -> list[str]:
  """random first: the finetuned models start from it."""
  return ["random", *[v for v in maze_config.VARIANTS if v != "random"]]


def model_name(variant: str, context: int, seed: int) -> str:
  return f"{variant}_k{context}_seed{seed}"


def config(variant: str, context: int, seed: int, scale: str, pretrained: str | None = None):
  """A model's config at ``scale`` (``configs/pointmaze.py``'s, which sizes it); a finetune variant starts from
  ``pretrained``."""
  c = maze_config.get_config(f"model={variant},context={context},scale={scale}")
  return harness.as_trained(c, seed, pretrained if variant.startswith("finetune_") else None)


def rc_targets(starts: list[dict], data_config) -> np.ndarray:
  """The return of the training trajectory whose (position, target) start is nearest (times a column's scale),
  among the training episodes of ``data_config`` (read and split as the models' own: ``splits.split_by_config``)."""
  _, episodes = data.load(data_config)
  train, _ = split_by_config(episodes, data_config)
  first = np.stack([e["states"][0] for e in train])
  returns = np.array([e["returns"][0, 0] for e in train])
  query = np.stack([np.concatenate([s["position"], s["target"]]) for s in starts])
  nearest = np.argmin(((query[:, None] - first[None]) ** 2).sum(-1), axis=1)
  return returns[nearest]


def expert_rows(starts, noise_levels=(0.0, 0.5)) -> tuple[dict, dict]:
  env = gym.make(ENV_ID)
  rows, paths = {}, {}
  for noise in noise_levels:
    rng = np.random.default_rng(0)
    expert = Expert(noise=noise, waypoints=dataset.WAYPOINTS)  # the data's expert
    results = [dataset.run_episode(env, expert, rng, EVAL_SEED + i, options=s) for i, s in enumerate(starts)]
    returns = np.array([r["rewards"].sum() for r in results])
    rows[f"expert (noise {noise})"] = returns
    paths[noise] = np.stack([r["observations"][:, :2] for r in results])
  return rows, paths


def run_rollout(workdir, task, context, envs, starts, targets) -> dict:
  """task: "bc" or a key of RC_COLUMNS; targets: the nearest-start returns, scaled here by the column."""
  ckpt = load_checkpoint(workdir)
  past_actions = rollout.past_actions_seen(ckpt.config.masks, model_task(task))
  act = rollout.make_act(make_predict(ckpt.config), context, model_task(task), "first", past_actions)
  params = jax.tree_util.tree_map(jax.numpy.asarray, ckpt.params)
  scaled = None if task == "bc" else RC_COLUMNS[task][1] * targets
  return evaluation.rollout(act, params, context, envs, starts, scaled)


def findings(table: dict, contexts: list[int], rc: str = "RCBC") -> list[tuple[str, bool, str]]:
  """The paper's Table 1 claims on table[row][column] = (mean, se): (claim, holds, evidence) each.

  rc: the return-conditioned column to check them on (the paper's "RCBC", or "RCBC×1.0").
  Compared on means; the state-only row is not one of the paper's models and takes no part.
  """

  def mean(row, column):
    return table[SINGLE_TASK[column.split()[0]] if row == "single-task" else row][column][0]

  columns = [f"{task} K={k}" for k in contexts for task in ("BC", rc)]
  out = []
  bidirectional = ("single-task", "multi-task", "random-mask")
  beaten = []
  for c in columns:
    best = max(bidirectional, key=lambda r: mean(r, c))
    if mean("finetune", c) < mean(best, c):
      beaten.append(f"{c}: {best} {mean(best, c):.2f} vs finetune {mean('finetune', c):.2f}")
  out.append(
    (
      "finetune best among the bidirectional models on every column",
      not beaten,
      "; ".join(beaten) or "best on all " + str(len(columns)),
    )
  )
  higher = [
    f"{c}: random {mean('random-mask', c):.2f} vs {r} {mean(r, c):.2f}"
    for c in columns
    for r in ("single-task", "finetune")
    if mean("random-mask", c) >= mean(r, c)
  ]
  out.append(
    (
      "random-mask alone weaker than single-task and finetune on every column",
      not higher,
      "; ".join(higher) or "lower on all " + str(len(columns)),
    )
  )
  if max(contexts) >= 10:
    others = [r for r in table if r not in ("Decision-GPT", STATE_ONLY)]
    long = [c for c in columns if c.endswith(f"K={max(contexts)}")]
    lost = [
      f"{c}: {r} {mean(r, c):.2f} vs {mean('Decision-GPT', c):.2f}"
      for c in long
      for r in others
      if c in table[r] and mean(r, c) > mean("Decision-GPT", c)
    ]
    out.append((f"Decision-GPT strongest at context {max(contexts)}", not lost, "; ".join(lost) or "highest on both"))
  return out


class MazeStudy:
  """The study in ``out`` (default runs/maze_SCALE) at ``scale`` (of SCALES): seeds per model (0 = the scale's),
  context lengths K, and ``before``: an earlier run's results to show beside each cell."""

  def __init__(
    self, out: str | None, scale: str, seeds: int = 0, contexts=(5, 10), before: str | None = None, log: Callable = harness.echo
  ):
    if before and not os.path.isfile(before):
      raise UserError(f"--before={before}: no such file; pass an earlier run's results.json (or rollouts.json)")
    self.harness = harness.Harness(out or os.path.join("runs", f"maze_{scale}"), scale, SCALES, log=log)
    self.out, self.scale, self.log, self.before = self.harness.out, self.harness.scale, log, before
    self.seeds = list(range(seeds or self.scale["seeds"]))
    self.contexts = [int(k) for k in contexts]

  def train_all(self) -> None:
    """Trains every model that is not finished, random first at each context and seed (the finetunes start from it)."""
    started = time.time()
    runs = [(v, k, s) for s in self.seeds for k in self.contexts for v in variants()]
    for i, (variant, context, seed) in enumerate(runs):
      self.log(f"[{i + 1}/{len(runs)}] {variant} K={context} seed {seed} ({time.time() - started:.0f}s so far)")
      c = config(variant, context, seed, self.harness.scale_name, self.harness.workdir(model_name("random", context, seed)))
      self.harness.trained("training", model_name(variant, context, seed), c)

  def rollout_returns(self, envs, starts, targets) -> None:
    """Caches every table cell's mean return, one rollout set per (row, column task, context, seed)."""
    for context in self.contexts:
      for seed in self.seeds:
        for row, cells in ROWS.items():
          for task, variant in cells.items():
            for rollout_task in [task] if task == "bc" else list(RC_COLUMNS):
              compute = functools.partial(self.mean_return, row, variant, rollout_task, context, seed, envs, starts, targets)
              self.harness.measured(f"{row}|{rollout_task}|{context}|{seed}", compute)

  def mean_return(self, row, variant, task, context, seed, envs, starts, targets) -> float:
    """One table cell's mean return over the rollout episodes, rolled out now."""
    started = time.time()
    workdir = self.harness.workdir(model_name(variant, context, seed))
    mean = float(run_rollout(workdir, task, context, envs, starts, targets)["returns"].mean())
    self.harness.spent("rollouts", started)
    self.log(f"  {row:20s} {task:8s} K={context} seed {seed}: mean return {mean:.3f}")
    return mean

  def run(self) -> str:
    """Makes the data, trains every model, rolls them out, and writes OUT/report.md; returns its path."""
    started = time.time()
    scale = self.scale
    dataset.write(maze_config.DATASET_ID, num_episodes=scale["data"], noise=0.5, seed=0, waypoints=dataset.WAYPOINTS)
    self.train_all()
    starts = evaluation.fresh_starts(range(EVAL_SEED, EVAL_SEED + scale["episodes"]))
    envs = evaluation.make_envs(len(starts))  # made once: building an env costs ~60 ms
    targets = rc_targets(starts, config("rcbc", 5, 0, self.harness.scale_name).data)
    self.rollout_returns(envs, starts, targets)
    n = min(8, len(starts))  # sample paths for the plot: finetune, first seed, longest context
    context = self.contexts[-1]
    samples = {
      task: run_rollout(
        self.harness.workdir(model_name(variant, context, self.seeds[0])), task, context, envs[:n], starts[:n], targets[:n]
      )["positions"]
      for task, variant in ROWS["finetune"].items()
    }
    experts, expert_paths = expert_rows(starts)
    before = make_table(harness.read_results(self.before), self.seeds, self.contexts) if self.before else None
    return self.report(experts, samples, expert_paths, starts, time.time() - started, before)

  def report(self, experts, samples, expert_paths, starts, elapsed, before=None) -> str:
    out, scale, seeds, contexts = self.out, self.scale, self.seeds, self.contexts
    m, finetune = (config(v, contexts[0], seeds[0], self.harness.scale_name) for v in ("rcbc", "finetune_rcbc"))
    columns = [f"{column_name(task)} K={k}" for k in contexts for task in ("bc", *RC_COLUMNS)]
    table = make_table(self.harness.results, seeds, contexts)

    def shown_cell(row, c):
      if c not in table[row]:
        return "n/a"
      text = "{:.3f} ± {:.3f}".format(*table[row][c])
      if before is not None and c in before.get(row, {}):
        text += f" (was {before[row][c][0]:.3f})"
      return text

    shown = [[row, *[shown_cell(row, c) for c in columns]] for row in table]
    shown += [[name, *[f"{returns.mean():.3f}" for _ in columns]] for name, returns in experts.items()]
    plots.bars(
      os.path.join(out, "table.png"),
      table,
      columns,
      f"Maze2D mean return ({len(seeds)} seed(s))",
      references={name: returns.mean() for name, returns in experts.items()},
    )
    walls = [maze.cell_center(c) for c in np.argwhere(maze.MAZE_MAP == 1)]
    targets = np.stack([s["target"] for s in starts])
    n = len(next(iter(samples.values())))  # the sample rollouts' episodes: the first n starts
    panels = {f"finetune {t.upper()} K={contexts[-1]}": (samples[t], targets[:n]) for t in samples}
    panels["expert (noise 0.5)"] = (expert_paths[0.5][:n], targets[:n])
    plots.maze_paths(os.path.join(out, "trajectories.png"), panels, walls)
    text = [
      "# Uni[MASK] Maze2D study",
      f"{len(seeds)} seed(s); {m.train.num_steps} steps per model (finetune {finetune.train.num_steps}), width "
      f"{m.model.width}, {m.model.encoder_layers} layer(s), {m.model.num_heads} heads, MLP ratio {m.model.mlp_ratio}, "
      f"batch {m.train.batch_size}, no dropout; {scale['data']} expert trajectories ({dataset.WAYPOINTS} waypoint rule, "
      "noise std 0.5); "
      f"{len(starts)} rollout episodes per model; "
      "RC target: the return of the nearest-start training trajectory times 1.2 (RCBC, the paper's rule) or 1.0 "
      "(RCBC×1.0, in distribution). "
      + ("Each cell shows in brackets the mean of the run before (`--before`). " if before is not None else "")
      + f"This invocation took {elapsed / 60:.1f} min (it reuses the models and rollouts already in {out}).",
      markdown_table(["model", *columns], shown),
      "## Findings (the paper's claims on this table)",
      *[
        part
        for name, factor in RC_COLUMNS.values()
        for part in (
          f"With the RC target at {factor}x the nearest-start return ({name} columns):",
          "\n".join(
            f"- {'holds' if ok else 'does not hold'}: {claim} ({evidence})"
            for claim, ok, evidence in findings(table, contexts, rc=name)
          ),
        )
      ],
      "## The paper's Table 1, for comparison",
      markdown_table(
        ["model", "BC K=5", "RCBC K=5", "BC K=10", "RCBC K=10"],
        [[row, *[f"{m:.2f} ± {e:.2f}" for m, e in cells]] for row, cells in PAPER.items()],
      ),
      "![table](table.png)",
      "![trajectories](trajectories.png)",
    ]
    return self.harness.write_report(text)


def make_table(results: dict, seeds, contexts) -> dict:
  """table[row][column] = (mean, se) over seeds of the cells ``results`` holds (an older run may lack a column)."""
  table = {}
  for row, cells in ROWS.items():
    table[row] = {}
    for k in contexts:
      for task in ("bc", *RC_COLUMNS):
        keys = [f"{row}|{task}|{k}|{s}" for s in seeds]
        if model_task(task) in cells and all(key in results for key in keys):
          table[row][f"{column_name(task)} K={k}"] = mean_se([results[key] for key in keys])
  return table


def column_name(task: str) -> str:
  return "BC" if task == "bc" else RC_COLUMNS[task][0]


def model_task(task: str) -> str:
  """The mask a rollout column's model runs: "bc", or "rcbc" for every return-conditioned column."""
  return "bc" if task == "bc" else "rcbc"
