"""Failure paths: bad data says where, a preempted run saves and resumes, one live run per workdir, clean exits."""

import signal
import subprocess
import time

import numpy as np
import pytest
from conftest import process_env, smoke_config, train_command, write_pendulum

from mtm_jax import load_checkpoint, run_log
from mtm_jax.data import minari_data
from mtm_jax.errors import UserError
from mtm_jax.train import train_and_evaluate


def nan_at(episode, step):
  def spoil(i, obs, actions):
    if i == episode:
      obs[step, 1] = np.nan

  return spoil


def test_nonfinite_data_names_the_place_or_drops_the_episode(minari_root, caplog):
  write_pendulum("mtmtest/nan-v0", spoil=nan_at(2, 3))
  with pytest.raises(UserError, match=r"'mtmtest/nan-v0', episode 2: states is nan at step 3; .*on_nonfinite=drop_episode"):
    minari_data.load("mtmtest/nan-v0")
  _, episodes, _ = minari_data.load("mtmtest/nan-v0", on_nonfinite="drop_episode")
  assert len(episodes) == 3 and "dropped 1 of 4 episodes" in caplog.text


def test_actions_outside_the_space_are_reported(minari_root):
  def spoil(i, obs, actions):
    if i == 1:
      actions[4, 0] = 7.5

  write_pendulum("mtmtest/bounds-v0", spoil=spoil)
  with pytest.raises(UserError, match=r"episode 1: actions\[0\] = 7.5 at step 4 is outside the action space \[-2, 2\]"):
    minari_data.load("mtmtest/bounds-v0")


def test_misshapen_episodes_are_named(minari_root):  # Minari itself refuses to write an empty episode
  write_pendulum("mtmtest/shape-v0", spoil=lambda i, obs, actions: (obs[:, :2], actions) if i == 2 else None)
  with pytest.raises(
    UserError,
    match=r"'mtmtest/shape-v0', episode 2: observations or actions do not fit the "
    r"dataset's spaces",
  ):
    minari_data.load("mtmtest/shape-v0")


def test_nan_data_stops_training_with_one_line_and_no_orbax_noise(minari_root, tmp_path):
  write_pendulum("mtmtest/nan-cli-v0", spoil=nan_at(0, 0))
  env = process_env()
  result = subprocess.run(
    train_command(
      tmp_path,
      "--config.data.source=minari",
      "--config.data.dataset_id=mtmtest/nan-cli-v0",
      "--config.data.num_validation=1",
    ),
    env=env,
    capture_output=True,
    text=True,
  )
  assert result.returncode != 0
  lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
  assert lines[-1].startswith("error: Minari dataset 'mtmtest/nan-cli-v0', episode 0: states is nan at step 0")
  assert "Traceback" not in result.stderr and "Event loop is closed" not in result.stderr


def train_cmd(workdir, steps=3000):
  return train_command(
    workdir, f"--config.train.num_steps={steps}", "--config.train.checkpoint_every=1000", "--config.train.log_every=1"
  )


def wait_for_metrics(workdir, proc, minimum=30):
  deadline = time.time() + 120
  while time.time() < deadline and proc.poll() is None:
    if len(run_log.read(str(workdir))) >= minimum:
      return
    time.sleep(0.1)
  raise AssertionError("the run did not start logging")


def test_sigterm_saves_the_current_step_and_the_run_resumes(tmp_path):
  env = process_env()
  proc = subprocess.Popen(train_cmd(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  wait_for_metrics(tmp_path, proc)
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=60)
  assert proc.returncode != 0 and err.strip().splitlines()[-1].startswith("error: stopped by SIGTERM at step ")
  stopped_at = load_checkpoint(str(tmp_path)).step  # not a multiple of checkpoint_every: saved on the signal
  assert 30 <= stopped_at < 1000
  assert [r["step"] for r in run_log.read(str(tmp_path))] == list(range(1, stopped_at + 1))
  assert "Traceback" not in err
  subprocess.run(train_cmd(tmp_path, stopped_at + 5), env=env, check=True, capture_output=True)
  assert [r["step"] for r in run_log.read(str(tmp_path))] == list(range(1, stopped_at + 6))


def test_a_second_run_on_a_live_workdir_is_refused_and_a_killed_one_leaves_no_lock(tmp_path):
  env = process_env()
  first = subprocess.Popen(train_cmd(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  wait_for_metrics(tmp_path, first, minimum=1)
  second = subprocess.run(train_cmd(tmp_path), env=env, capture_output=True, text=True)
  assert second.returncode != 0
  assert second.stderr.strip().splitlines()[-1] == (
    f"error: workdir '{tmp_path}' is being trained by another live process (pid {first.pid}); wait for it to "
    "finish or pass another --workdir"
  )
  first.send_signal(signal.SIGKILL)
  first.wait()
  train_and_evaluate(smoke_config(**{"train.num_steps": 3}), str(tmp_path / "other"))  # library path too
  with open(tmp_path / ".lock") as f:
    assert f.read().strip() == str(first.pid)  # the dead owner's pid stays, but its lock is gone
  subprocess.run(train_cmd(tmp_path, 5), env=env, check=True, capture_output=True)


def test_nonfinite_streak_exits_with_one_line_and_closes_the_checkpoint_manager(tmp_path):
  env = process_env()
  command = train_cmd(tmp_path, 40) + [
    "--config.train.learning_rate=inf",
    "--config.train.max_nonfinite_steps=3",
    "--config.train.checkpoint_every=2",
  ]
  result = subprocess.run(command, env=env, capture_output=True, text=True)
  assert result.returncode != 0
  assert result.stderr.strip().splitlines()[-1].startswith("error: loss or gradients were NaN/Inf for 3 steps in a row")
  assert "Traceback" not in result.stderr and "Event loop is closed" not in result.stderr
  assert load_checkpoint(str(tmp_path)).step >= 2  # the checkpoints written before the stop stay restorable
