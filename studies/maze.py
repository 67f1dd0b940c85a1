"""The Uni[MASK] Maze2D study (Table 1): data, every model and seed at context 5 and 10, rollouts, report.

python -m experiments.reproduce_maze --scale small [--out runs/maze_small] [--contexts=5,10] [--before=OLD/rollouts.json]

Scales: smoke (checks the pipeline), small (a CPU afternoon), full (the paper's 5 seeds; meant for
an accelerator). Re-running resumes: trained models are kept, rollouts read back from OUT/rollouts.json.
Return-conditioned episodes aim at 1.2 x the return of the training trajectory whose start
(position and target) is nearest (the paper's rule), and again at 1.0 x (in distribution: 1.2 x asks
for more than any trajectory in the data achieved); the target is decremented by the reward received.
--before puts an earlier run's numbers beside each cell of the table.
"""

import json
import os
import time

import gymnasium as gym
import jax
import numpy as np
from absl import flags

from configs import pointmaze as maze_config
from mtm_jax import seeds
from mtm_jax.checkpoint import load_checkpoint
from mtm_jax.data import minari_data
from mtm_jax.datagen import pointmaze as dataset
from mtm_jax.envs import rollout
from mtm_jax.envs.pointmaze import ENV_ID, maze
from mtm_jax.envs.pointmaze.expert import Expert
from mtm_jax.errors import UserError
from mtm_jax.eval import plots
from mtm_jax.eval import pointmaze as evaluation
from mtm_jax.predict import make_predict
from mtm_jax.train import train_and_evaluate
from studies import harness

# full has the Uni[MASK] reference's network (configs/pointmaze.py); small keeps a narrower, shallower one
# (the reference's shape cost 2.6x the time for +0.14 on BC K=5, within noise: results/maze_small/AUDIT.md).
SCALES = {
  "smoke": dict(seeds=1, steps=10, finetune_steps=5, width=32, layers=1, heads=4, mlp_ratio=4, batch=16, data=30, episodes=4),
  "small": dict(
    seeds=5, steps=4000, finetune_steps=1500, width=64, layers=2, heads=4, mlp_ratio=4, batch=64, data=1000, episodes=1000
  ),
  "full": dict(
    seeds=5, steps=20000, finetune_steps=5000, width=128, layers=4, heads=16, mlp_ratio=1, batch=100, data=1000, episodes=1000
  ),
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

_SCALE = flags.DEFINE_enum("scale", "small", list(SCALES), "How much to train and roll out (see SCALES).")
_OUT = flags.DEFINE_string("out", None, "Output folder (default runs/maze_SCALE).")
_SEEDS = flags.DEFINE_integer("seeds", 0, "Seeds per model; 0 = the scale's default.")
_CONTEXTS = flags.DEFINE_list("contexts", ["5", "10"], "Context lengths K.")
_BEFORE = flags.DEFINE_string("before", None, "An earlier run's rollouts.json, shown beside each cell of the table.")


def variants() -> list[str]:
  """random first: the finetuned models start from it."""
  return ["random", *[v for v in maze_config.VARIANTS if v != "random"]]


def workdir(out, variant, context, seed) -> str:
  return os.path.join(out, "models", f"{variant}_k{context}_seed{seed}")


def make_config(variant, context, seed, scale, out):
  c = maze_config.get_config(f"{variant},{context}")
  c.data.num_validation = max(2, scale["data"] // 10)
  c.model.num_heads, c.model.mlp_ratio = scale["heads"], scale["mlp_ratio"]
  return harness.apply_scale(c, variant, seed, scale, workdir(out, "random", context, seed))


def rc_targets(starts: list[dict], num_validation: int) -> np.ndarray:
  """The return of the training trajectory whose (position, target) start is nearest (times a column's scale)."""
  _, episodes, _ = minari_data.load(maze_config.DATASET_ID)
  train = episodes[: len(episodes) - num_validation]
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


def run_rollout(out, variant, task, context, seed, envs, starts, targets) -> dict:
  """task: "bc" or a key of RC_COLUMNS; targets: the nearest-start returns, scaled here by the column."""
  ckpt = load_checkpoint(workdir(out, variant, context, seed))
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


def main():
  scale = dict(SCALES[_SCALE.value])
  seeds = list(range(_SEEDS.value or scale["seeds"]))
  contexts = [int(k) for k in _CONTEXTS.value]
  out = _OUT.value or os.path.join("runs", f"maze_{_SCALE.value}")
  if _BEFORE.value and not os.path.isfile(_BEFORE.value):
    raise UserError(f"--before={_BEFORE.value}: no such file; pass an earlier run's rollouts.json")
  os.makedirs(out, exist_ok=True)
  started = time.time()
  dataset.write(maze_config.DATASET_ID, num_episodes=scale["data"], noise=0.5, seed=0, waypoints=dataset.WAYPOINTS)
  runs = [(v, k, s) for s in seeds for k in contexts for v in variants()]
  for i, (variant, context, seed) in enumerate(runs):
    config = make_config(variant, context, seed, scale, out)
    print(f"[{i + 1}/{len(runs)}] {variant} K={context} seed {seed} ({time.time() - started:.0f}s so far)", flush=True)
    train_and_evaluate(config, workdir(out, variant, context, seed))

  starts = evaluation.fresh_starts(range(EVAL_SEED, EVAL_SEED + scale["episodes"]))
  envs = evaluation.make_envs(len(starts))  # made once: building an env costs ~60 ms
  targets = rc_targets(starts, max(2, scale["data"] // 10))
  cached = os.path.join(out, "rollouts.json")
  results = harness.read_results(cached)
  for context in contexts:
    for seed in seeds:
      for row, cells in ROWS.items():
        for task, variant in cells.items():
          for rollout_task in [task] if task == "bc" else list(RC_COLUMNS):
            key = f"{row}|{rollout_task}|{context}|{seed}"
            if key in results:
              continue
            episodes = run_rollout(out, variant, rollout_task, context, seed, envs, starts, targets)
            results[key] = float(episodes["returns"].mean())
            print(f"  {row:20s} {rollout_task:8s} K={context} seed {seed}: mean return {results[key]:.3f}", flush=True)
            with open(cached, "w") as f:
              json.dump(results, f, indent=2)
  n = min(8, len(starts))  # sample paths for the plot: finetune, first seed, longest context
  samples = {
    task: run_rollout(out, variant, task, contexts[-1], seeds[0], envs[:n], starts[:n], targets[:n])["positions"]
    for task, variant in ROWS["finetune"].items()
  }
  experts, expert_paths = expert_rows(starts)
  before = None
  if _BEFORE.value:
    before = make_table(harness.read_results(_BEFORE.value), seeds, contexts)
  write_report(out, scale, seeds, contexts, results, experts, samples, expert_paths, starts, time.time() - started, before)


def make_table(results: dict, seeds, contexts) -> dict:
  """table[row][column] = (mean, se) over seeds of the cells ``results`` holds (an older run may lack a column)."""
  table = {}
  for row, cells in ROWS.items():
    table[row] = {}
    for k in contexts:
      for task in ("bc", *RC_COLUMNS):
        keys = [f"{row}|{task}|{k}|{s}" for s in seeds]
        if model_task(task) in cells and all(key in results for key in keys):
          table[row][f"{column_name(task)} K={k}"] = harness.mean_se([results[key] for key in keys])
  return table


def column_name(task: str) -> str:
  return "BC" if task == "bc" else RC_COLUMNS[task][0]


def model_task(task: str) -> str:
  """The mask a rollout column's model runs: "bc", or "rcbc" for every return-conditioned column."""
  return "bc" if task == "bc" else "rcbc"


def write_report(out, scale, seeds, contexts, results, experts, samples, expert_paths, starts, elapsed, before=None):
  columns = [f"{column_name(task)} K={k}" for k in contexts for task in ("bc", *RC_COLUMNS)]
  table = make_table(results, seeds, contexts)

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
    f"{len(seeds)} seed(s); {scale['steps']} steps per model (finetune {scale['finetune_steps']}), width {scale['width']}, "
    f"{scale['layers']} layer(s), {scale['heads']} heads, MLP ratio {scale['mlp_ratio']}, batch {scale['batch']}, "
    f"no dropout; {scale['data']} expert trajectories ({dataset.WAYPOINTS} waypoint rule, noise std 0.5); "
    f"{len(starts)} rollout episodes per model; "
    "RC target: the return of the nearest-start training trajectory times 1.2 (RCBC, the paper's rule) or 1.0 "
    "(RCBC×1.0, in distribution). "
    + ("Each cell shows in brackets the mean of the run before (`--before`). " if before is not None else "")
    + f"This invocation took {elapsed / 60:.1f} min (it reuses the models and rollouts already in {out}).",
    harness.markdown_table(["model", *columns], shown),
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
    harness.markdown_table(
      ["model", "BC K=5", "RCBC K=5", "BC K=10", "RCBC K=10"],
      [[row, *[f"{m:.2f} ± {e:.2f}" for m, e in cells]] for row, cells in PAPER.items()],
    ),
    "![table](table.png)",
    "![trajectories](trajectories.png)",
  ]
  with open(os.path.join(out, "report.md"), "w") as f:
    f.write("\n\n".join(text) + "\n")
  print(f"wrote {os.path.join(out, 'report.md')}")
