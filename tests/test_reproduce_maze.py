"""The Maze2D study end to end at the smoke scale, context 5: data, every model, rollouts, report."""

import json
import os
import subprocess
import sys

from conftest import REPO


def test_reproduce_maze_smoke(tmp_path):
  out = tmp_path / "maze"
  env = {**os.environ, "MINARI_DATASETS_PATH": str(tmp_path / "minari")}
  cmd = [sys.executable, os.path.join(REPO, "experiments", "reproduce_maze.py"), "--scale=smoke", "--contexts=5", f"--out={out}"]
  result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-2000:]
  report = (out / "report.md").read_text()
  for row in ("bc (single-task)", "rcbc (single-task)", "multi-task", "random-mask", "finetune", "Decision-GPT", "MLP",
              "expert (noise 0.0)", "expert (noise 0.5)"):
    assert f"| {row} |" in report
  rollouts = json.loads((out / "rollouts.json").read_text())
  assert len(rollouts) == 12  # one per (row, column task): the single-task bc and rcbc rows fill one column, the rest two
  assert (out / "table.png").stat().st_size > 1000 and (out / "trajectories.png").stat().st_size > 1000
