"""Two processes on this machine (gloo collectives, 2 CPU devices each) train exactly like one process with
the same 4-device mesh; when one process dies the other stops with one line, and a rerun resumes."""

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
from conftest import REPO, process_env

from mtm_jax import load_checkpoint, run_log
from mtm_jax.distributed import EXIT_PEER_LOST

SMOKE = os.path.join(REPO, "configs", "sinusoid.py:smoke")


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def start(workdir, devices, *args, process=None, port=None, stderr=subprocess.DEVNULL, peer_timeout=60):
  """A training process. peer_timeout: long, unless a test waits for a peer's death to be noticed: on a loaded
  machine (the suite's other workers, a study beside it) a live peer's heartbeat can lag by several seconds."""
  env = process_env(devices)
  command = [sys.executable, "-m", "experiments.train", "--config", SMOKE, "--workdir", str(workdir), *args]
  if process is not None:
    command += [
      "--num_processes=2",
      f"--process_id={process}",
      f"--coordinator=localhost:{port}",
      f"--peer_timeout={peer_timeout}",
    ]
  return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True)


def test_two_processes_train_like_one(tmp_path):
  port = free_port()
  evaluate = "--config.eval.every=10"  # held-out evaluations during training, on each process's own copy
  pair = [start(tmp_path / "two", 2, evaluate, process=i, port=port) for i in (0, 1)]
  assert start(tmp_path / "one", 4, evaluate).wait(timeout=300) == 0
  assert [p.wait(timeout=300) for p in pair] == [0, 0]
  two, one = run_log.read(str(tmp_path / "two")), run_log.read(str(tmp_path / "one"))
  assert [r["step"] for r in two] == [r["step"] for r in one] == [5, 10, 15, 20]
  np.testing.assert_allclose([r["loss"] for r in two], [r["loss"] for r in one], rtol=1e-5)
  assert load_checkpoint(str(tmp_path / "two")).step == 20
  evals = [run_log.read(str(tmp_path / run), run_log.EVAL) for run in ("two", "one")]
  assert [r["step"] for r in evals[0]] == [r["step"] for r in evals[1]] == [10, 20]
  np.testing.assert_allclose([r["eval/future"] for r in evals[0]], [r["eval/future"] for r in evals[1]], rtol=1e-5)
  assert not (tmp_path / "two" / ".write_test0").exists()


def test_a_dead_process_stops_the_other_and_a_rerun_resumes(tmp_path):
  args = ["--config.train.num_steps=60", "--config.train.checkpoint_every=10"]
  port = free_port()
  survivor = start(tmp_path, 2, *args, process=0, port=port, stderr=subprocess.PIPE, peer_timeout=5)
  victim = start(tmp_path, 2, *args, process=1, port=port, peer_timeout=5)
  deadline = time.time() + 240
  while time.time() < deadline and not (tmp_path / "checkpoints" / "20").exists():
    time.sleep(0.2)
  victim.send_signal(signal.SIGKILL)
  killed_at = time.time()
  _, err = survivor.communicate(timeout=120)
  assert time.time() - killed_at < 60
  messages = [line for line in err.splitlines() if not line.startswith(("  File", "Thread", "    @"))]
  assert survivor.returncode == EXIT_PEER_LOST, "\n".join(messages)[-3000:]
  assert err.strip().splitlines()[-1].startswith("error: process 1 of 2 stopped responding")
  assert "Traceback" not in err
  last = max(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
  assert 20 <= last < 60
  port = free_port()
  pair = [start(tmp_path, 2, *args, process=i, port=port) for i in (0, 1)]
  assert [p.wait(timeout=300) for p in pair] == [0, 0]
  assert load_checkpoint(str(tmp_path)).step == 60
  assert run_log.read(str(tmp_path))[-1]["step"] == 60
