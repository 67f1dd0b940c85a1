import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import process_env, smoke_config, train_command

from mtm_jax import load_checkpoint
from mtm_jax.errors import UserError
from mtm_jax.train import train_and_evaluate

STEPS = 400  # long enough that a kill at step >= 100 lands before the end


def train_cmd(workdir):
  return train_command(
    workdir, f"--config.train.num_steps={STEPS}", "--config.train.log_every=1", "--config.train.checkpoint_every=25"
  )


def losses(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [(r["step"], r["loss"]) for r in map(json.loads, f)]


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
  env = process_env()
  killed = tmp_path / "killed"
  proc = subprocess.Popen(train_cmd(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 120
  while time.time() < deadline:
    ckpts = killed / "checkpoints"
    if ckpts.exists() and any(p.name.isdigit() and int(p.name) >= 100 for p in ckpts.iterdir()):
      break
    time.sleep(0.02)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert len(losses(killed)) < STEPS, "the run finished before it could be killed"
  subprocess.run(train_cmd(killed), env=env, check=True, capture_output=True)
  reference = tmp_path / "reference"
  subprocess.run(train_cmd(reference), env=env, check=True, capture_output=True)
  assert losses(killed) == losses(reference)
  assert len(losses(reference)) == STEPS


def test_corrupt_checkpoint_gives_clear_error_and_keeps_earlier_one(tmp_path):
  config = smoke_config()
  train_and_evaluate(config, str(tmp_path))
  ckpts = tmp_path / "checkpoints"
  steps = sorted(int(p.name) for p in ckpts.iterdir() if p.name.isdigit())
  assert steps == [10, 20]
  for root, _, files in os.walk(ckpts / "20" / "params"):
    for name in files:
      with open(os.path.join(root, name), "wb") as f:
        f.write(b"garbage")
  with pytest.raises(UserError, match=r"step 20 .* unreadable.*earlier checkpoints \[10\] are untouched"):
    load_checkpoint(str(tmp_path))
  with pytest.raises(UserError, match="unreadable"):
    train_and_evaluate(smoke_config(**{"train.num_steps": 30}), str(tmp_path))
  assert load_checkpoint(str(tmp_path), step=10).step == 10
  assert (ckpts / "10").exists()


def test_missing_checkpoint_errors(tmp_path):
  with pytest.raises(UserError, match="no checkpoints"):
    load_checkpoint(str(tmp_path))


def test_checkpoint_saved_on_two_devices_loads_on_one(tmp_path):
  train_and_evaluate(smoke_config(), str(tmp_path))  # this process has 2 devices: the params were saved sharded
  code = f"from mtm_jax import load_checkpoint; print(load_checkpoint({str(tmp_path)!r}).step)"
  result = subprocess.run([sys.executable, "-c", code], env=process_env(), capture_output=True, text=True)
  assert result.returncode == 0 and result.stdout.strip() == "20", result.stderr
