"""The Maze2D study end to end at the smoke scale, context 5: data, every model, rollouts, report."""

import json
import subprocess
import sys

from conftest import process_env


def test_reproduce_maze_smoke(tmp_path):
  out = tmp_path / "maze"
  env = {**process_env(devices=2), "MINARI_DATASETS_PATH": str(tmp_path / "minari")}
  cmd = [sys.executable, "-m", "experiments.reproduce_maze", "--scale=smoke", "--contexts=5", f"--out={out}"]
  result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-2000:]
  report = (out / "report.md").read_text()
  for row in (
    "bc (single-task)",
    "rcbc (single-task)",
    "multi-task",
    "random-mask",
    "finetune",
    "Decision-GPT",
    "MLP",
    "single-task, state-only history",
    "expert (noise 0.0)",
    "expert (noise 0.5)",
  ):
    assert f"| {row} |" in report
  assert "| model | BC K=5 | RCBC K=5 | RCBC×1.0 K=5 |" in report
  assert report.count("hold") == 4  # at context 5 only, for either RC target: finetune best, random weaker
  rollouts = {
    k: v for k, v in json.loads((out / "results.json").read_text()).items() if k not in ("settings", "wall_seconds", "models")
  }
  # one per (row, column): the single-task bc row fills BC, the rcbc row both RC columns, the rest all three
  assert len(rollouts) == 21
  from studies import maze

  assert sorted(p.stem for p in (out / "configs").iterdir()) == sorted(f"{v}_k5_seed0" for v in maze.variants())  # one a model
  assert (out / "table.png").stat().st_size > 1000 and (out / "trajectories.png").stat().st_size > 1000

  # A re-run resumes (nothing retrained or rolled out again) and can show an earlier run beside each cell.
  before = tmp_path / "before.json"
  before.write_text(json.dumps({k: v + 1.0 for k, v in rollouts.items() if "rcbc@1.0" not in k}))
  result = subprocess.run([*cmd, f"--before={before}"], env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "[1/" in result.stdout and "mean return" not in result.stdout
  report = (out / "report.md").read_text()
  bc = rollouts["bc (single-task)|bc|5|0"]
  assert f"| bc (single-task) | {bc:.3f} ± 0.000 (was {bc + 1:.3f}) |" in report
  assert report.count("(was ") == 7 + 7  # the BC and RCBC cells (7 rows each); an older run lacks RCBC×1.0


def test_findings_follow_the_table():
  from studies import maze as reproduce_maze

  columns = ["BC K=5", "RCBC K=5", "BC K=10", "RCBC K=10"]

  def row(*values):
    return {c: (v, 0.01) for c, v in zip(columns, values) if v is not None}

  # The paper's own Table 1 satisfies its three claims.
  table = {
    reproduce_maze.SINGLE_TASK["BC"]: row(2.66, None, 2.47, None),
    reproduce_maze.SINGLE_TASK["RCBC"]: row(None, 2.64, None, 2.41),
  }
  table.update({name: row(*(m for m, _ in cells)) for name, cells in reproduce_maze.PAPER.items() if name != "single-task"})
  table[reproduce_maze.STATE_ONLY] = row(9, 9, 9, 9)  # not the paper's: ignored by the Decision-GPT claim
  claims = reproduce_maze.findings(table, [5, 10])
  assert [ok for _, ok, _ in claims] == [True, True, True]
  table["random-mask"] = row(3, 3, 3, 3)
  claims = reproduce_maze.findings(table, [5, 10])
  assert [ok for _, ok, _ in claims] == [False, False, False]
  assert "random-mask" in claims[2][2]


def test_audit_changes_apply_alone_or_together():
  from mtm_jax.datagen import pointmaze as dataset
  from studies import maze_audit

  base = maze_audit.make_config("baseline", 0)  # the small study's recipe before the audit
  assert (base.window, base.masks.tasks, base.train.num_steps) == (5, ("bc",), 4000)
  assert (base.model.width, base.model.num_heads, base.model.mlp_ratio, base.model.dropout) == (64, 4, 4, 0.1)
  assert base.data.dataset_id == dataset.DATASET_IDS["cell"]
  both = maze_audit.make_config("d4rl_waypoints+no_dropout+best_checkpoint", 1)
  assert both.data.dataset_id == dataset.DATASET_IDS["d4rl"] and both.model.dropout == 0.0 and both.seed == 1
  assert both.train.checkpoint_every * maze_audit.SAVED_CHECKPOINTS == both.train.num_steps
  assert both.train.keep_checkpoints == maze_audit.SAVED_CHECKPOINTS
  longer = maze_audit.make_config("steps_x4", 0)
  assert longer.train.num_steps == longer.train.checkpoint_every == 16_000
  hidden = maze_audit.make_config("state_only_history", 0)
  assert hidden.masks.task_params.bc.past_actions is False
