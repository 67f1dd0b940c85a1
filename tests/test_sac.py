"""SAC: the squashed-Gaussian log-probability, the replay buffer's episodes, learning Pendulum and resuming."""

import json
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from conftest import process_env

from mtm_jax.agents import replay as replay_lib
from mtm_jax.agents.networks import sample_tanh_gaussian


def test_tanh_gaussian_log_prob_matches_change_of_variables():
  mean, log_std = jnp.array([[0.3, -1.2]]), jnp.array([[-0.5, 0.2]])
  action, log_prob = sample_tanh_gaussian(mean, log_std, jax.random.key(0))
  pre = jnp.arctanh(action)
  normal = jax.scipy.stats.norm.logpdf(pre, mean, jnp.exp(log_std))
  expected = jnp.sum(normal - jnp.log(1 - action**2), axis=-1)
  np.testing.assert_allclose(log_prob, expected, rtol=1e-4)
  assert jnp.all(jnp.abs(action) < 1)


def test_replay_episodes_follow_each_environment_in_order():
  replay = replay_lib.init(12, 1, 1)
  # Two environments interleaved: env 0 ends an episode by termination at its step 1, env 1 by time limit at 2.
  ends = {(0, 1): (True, False), (1, 2): (False, True)}
  for step in range(6):
    obs = np.array([[10 * step], [10 * step + 1]], np.float32)
    flags = np.array([ends.get((e, step), (False, False)) for e in range(2)])
    replay = replay_lib.add(replay, obs, np.zeros((2, 1)), np.array([step, -step]), obs + 5, flags[:, 0], flags[:, 1])
  episodes = replay_lib.episodes(replay, 2)
  assert [len(e["rewards"]) for e in episodes] == [2, 4, 3, 3]  # env 0: 2 + open 4; env 1: 3 + open 3
  first = episodes[0]
  np.testing.assert_array_equal(first["observations"][:, 0], [0, 10, 15])  # the final next observation closes it
  assert first["terminations"].tolist() == [False, True] and not first["truncations"].any()
  assert episodes[1]["truncations"].tolist() == [False, False, False, True]  # open at the buffer's end: cut there
  assert episodes[2]["truncations"].tolist() == [False, False, True] and not episodes[2]["terminations"].any()
  cut = replay_lib.episodes(replay, 2, rows=4)  # env 0's first 2 steps (one whole episode), env 1's first 2
  assert [len(e["rewards"]) for e in cut] == [2, 2] and cut[1]["truncations"].tolist() == [False, True]


TRAIN = """
import sys
from mtm_jax.agents.sac import SACConfig
from mtm_jax.agents.sac_train import RunConfig, train
config = RunConfig("Pendulum-v1", total_steps=2000, start_steps=400, updates_per_step=8, eval_every=400,
                   checkpoint_every=200, eval_episodes=5, sac=SACConfig(hidden=(64, 64), learning_rate=1e-3))
train(config, sys.argv[1], progress=False)
"""


def evals(workdir):
  steps = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
  with open(workdir / "checkpoints" / str(steps[-1]) / "meta" / "metadata") as f:
    return steps[-1], json.load(f)["evals"]


def test_sac_learns_pendulum_and_resumes_after_a_kill(tmp_path):
  command = [sys.executable, "-c", TRAIN, str(tmp_path)]
  env = process_env(fast_compile=False)  # 2,000 SAC updates: run time, not compiles
  proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 120
  while time.time() < deadline and proc.poll() is None:
    ckpts = tmp_path / "checkpoints"
    if ckpts.exists() and any(p.name.isdigit() and 800 <= int(p.name) < 2000 for p in ckpts.iterdir()):
      break
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  killed_at, _ = evals(tmp_path)
  assert killed_at < 2000, "the run finished before it could be killed"
  subprocess.run(command, env=env, check=True, capture_output=True)
  step, history = evals(tmp_path)
  assert step == 2000 and [e["step"] for e in history] == list(range(0, 2001, 400))
  first, last = history[0]["return_mean"], history[-1]["return_mean"]
  assert last > first + 500, f"Pendulum return went from {first:.0f} to {last:.0f}"
