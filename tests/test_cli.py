import json
import os
import subprocess
import sys

from conftest import REPO, process_env

SMOKE = os.path.join(REPO, "configs", "sinusoid.py:smoke")


def run(script, *args):
  env = process_env()
  return subprocess.run(
    [sys.executable, "-m", f"experiments.{script.removesuffix('.py')}", *args], env=env, capture_output=True, text=True
  )


def assert_one_line_error(result, needle):
  assert result.returncode != 0
  assert "Traceback" not in result.stderr, result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error:") and needle in last, result.stderr


def test_train_then_evaluate(tmp_path):
  assert run("train.py", "--config", SMOKE, "--workdir", str(tmp_path)).returncode == 0
  result = run("evaluate.py", "--workdir", str(tmp_path))
  assert result.returncode == 0, result.stderr
  assert "reconstruct" in result.stdout and "forward_dynamics" in result.stdout
  # random-autoregressive masks show prefixes: a suffix (past inference) is a mask this model never trained on
  assert "notice: past asks masks this model has (almost) never trained on" in result.stdout, result.stdout
  assert json.load(open(tmp_path / "coverage.json"))["masks"]["past@1"]["probability"] == 0.0
  report = json.load(open(tmp_path / "eval.json"))
  assert report["step"] == 20 and report["losses"]["reconstruct"]["loss"] > 0
  assert report["losses"]["bc"] is None  # sinusoids have no actions
  assert (tmp_path / "reconstruction.png").stat().st_size > 1000


def test_one_line_errors(tmp_path):
  assert_one_line_error(
    run("train.py", "--config", SMOKE, "--workdir", str(tmp_path), "--config.train.nope=1"), "unknown config key"
  )
  assert_one_line_error(
    run(
      "train.py",
      "--config",
      SMOKE,
      "--workdir",
      str(tmp_path),
      "--config.data.source=minari",
      "--config.data.dataset_id=nobody/nothing-v0",
    ),
    "not on this machine",
  )
  result = run(
    "train.py", "--config", SMOKE, "--workdir", str(tmp_path / "zero"), "--config.train.batch_size=0", "--config.window=-1"
  )
  assert result.returncode != 0 and "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-2:] == [
    "error: window=-1: must be a positive integer",
    "error: train.batch_size=0: must be a positive integer",
  ]
  blocker = tmp_path / "file"
  blocker.write_text("")
  assert_one_line_error(run("train.py", "--config", SMOKE, "--workdir", str(blocker / "sub")), "not usable")
  assert_one_line_error(run("evaluate.py", "--workdir", str(tmp_path / "empty")), "no checkpoints")
