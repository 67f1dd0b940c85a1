"""The gridworld study end to end at the smoke scale on two tasks: data, regimes, matrix, rollouts, report."""

import csv
import json
import subprocess
import sys

from conftest import process_env


def test_reproduce_gridworld_smoke(tmp_path):
  out = tmp_path / "study"
  env = {**process_env(devices=2), "MINARI_DATASETS_PATH": str(tmp_path / "minari")}
  cmd = [
    sys.executable,
    "-m",
    "experiments.reproduce_gridworld",
    "--scale=smoke",
    "--tasks=bc,goal",
    f"--out={out}",
  ]
  result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-2000:]
  with open(out / "loss_matrix_normalized.csv") as f:
    rows = list(csv.reader(f))
  assert rows[0] == ["model", "bc", "goal"]
  assert [r[0] for r in rows[1:]] == ["bc", "goal", "multi_task", "random", "finetune"]
  values = [float(v) for r in rows[1:] for v in r[1:]]
  assert min(values) == 1.0 and all(v >= 1.0 for v in values)  # each column divided by its minimum
  report = (out / "report.md").read_text()
  for png in ("loss_matrix.png", "loss_matrix_normalized.png", "rollouts.png", "future_states.png"):
    assert (out / png).stat().st_size > 1000 and f"({png})" in report
  assert "| random |" in report and "bc success" in report and "goal success" in report
  models = sorted(f"{v}_seed0" for v in ("random", "multi_task", "bc", "goal", "finetune_bc", "finetune_goal"))
  assert sorted(p.stem for p in (out / "configs").iterdir()) == models  # the config of every model the report uses
  losses = json.loads((out / "results.json").read_text())
  assert sorted(k.removeprefix("losses|") for k in losses if k.startswith("losses|")) == models
  assert all(set(losses[f"losses|{m}"]) == {"bc", "goal"} for m in models)
  # A second run finds every model and evaluation and only redoes the report.
  again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
  assert again.returncode == 0 and "[1/" not in again.stdout


def test_reproduce_gridworld_rejects_unknown_tasks(tmp_path):
  cmd = [sys.executable, "-m", "experiments.reproduce_gridworld", "--tasks=bc,flying", f"--out={tmp_path}"]
  result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
  assert result.returncode != 0 and result.stderr.strip().splitlines()[-1].startswith("error: --tasks needs")
