"""Run logs: metrics.jsonl and TensorBoard events in the workdir, resumed without duplicates; learning curves."""

import os
import struct
import subprocess
import sys

from conftest import process_env, smoke_config
from tensorboardX.proto import event_pb2

from mtm_jax import run_log
from mtm_jax.train import train_and_evaluate


def tensorboard_scalars(workdir) -> dict:
  """tag -> [(step, value)] over every event file in the folder (TFRecord: length, crc, event, crc)."""
  scalars = {}
  for name in sorted(os.listdir(workdir)):
    if not name.startswith("events.out.tfevents"):
      continue
    data = open(os.path.join(workdir, name), "rb").read()
    offset = 0
    while offset < len(data):
      (length,) = struct.unpack("<Q", data[offset : offset + 8])
      event = event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length])
      offset += 12 + length + 4
      for value in event.summary.value:
        scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
  return scalars


def test_training_writes_jsonl_and_tensorboard_and_resumes_once_per_step(tmp_path):
  train_and_evaluate(smoke_config(**{"train.num_steps": 10}), str(tmp_path))
  train_and_evaluate(smoke_config(**{"train.num_steps": 20}), str(tmp_path))  # resumes at 10
  steps = [r["step"] for r in run_log.read(str(tmp_path))]
  assert steps == [5, 10, 15, 20]
  scalars = tensorboard_scalars(tmp_path)
  assert {"loss", "lr", "grad_norm", "loss/states"} <= set(scalars)
  assert sorted(s for s, _ in scalars["loss"]) == [5, 10, 15, 20]
  assert scalars["loss"][0][1] == run_log.read(str(tmp_path))[0]["loss"]


def test_tensorboard_can_be_switched_off(tmp_path):
  train_and_evaluate(smoke_config(**{"train.num_steps": 5, "train.tensorboard": False}), str(tmp_path))
  assert run_log.read(str(tmp_path)) and not any(n.startswith("events.") for n in os.listdir(tmp_path))


def test_plot_metrics_draws_several_runs(tmp_path):
  for name in ("a", "b"):
    train_and_evaluate(smoke_config(**{"train.num_steps": 10, "seed": len(name)}), str(tmp_path / name))
  with run_log.RunLog(str(tmp_path / "a"), run_log.EVAL) as log:
    log.write(10, {"eval/reconstruct": 0.5, "rollout/bc/score": 40.0})
  out = tmp_path / "curves.png"
  result = subprocess.run(
    [sys.executable, "-m", "experiments.plot_metrics", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)],
    capture_output=True,
    text=True,
    env=process_env(),
  )
  assert result.returncode == 0, result.stderr
  assert out.stat().st_size > 10_000
  missing = subprocess.run(
    [sys.executable, "-m", "experiments.plot_metrics", str(tmp_path / "none")], capture_output=True, text=True
  )
  assert missing.returncode != 0 and missing.stderr.strip().splitlines()[-1].startswith("error:")
