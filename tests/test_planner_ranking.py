"""The planner's candidates played out in the simulator: each from the decision step's restored state."""

import json
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from conftest import pendulum_config, process_env

from mtm_jax.checkpoint import load_checkpoint
from mtm_jax.envs import rollout
from mtm_jax.eval import model_rollouts, planner_ranking
from mtm_jax.train import train_and_evaluate

PLANNER = dict(num_candidates=3, noise=0.5)


@pytest.fixture(scope="module")
def pendulum_run(minari_root, tmp_path_factory):
  """A tiny trained Pendulum model's folder."""
  workdir = str(tmp_path_factory.mktemp("ranking"))
  train_and_evaluate(pendulum_config(), workdir)
  return workdir


@pytest.fixture
def pendulum_ckpt(pendulum_run):
  return load_checkpoint(pendulum_run)


def test_every_candidate_is_played_out_from_the_decision_steps_state(pendulum_ckpt):
  out = planner_ranking.planner_ranking(pendulum_ckpt, 2, (3, 10, 500), planner=PLANNER)
  # Pendulum never terminates and its episodes last 30 steps: step 500 is never reached
  assert [(d["episode"], d["step"]) for d in out["decisions"]] == [(0, 3), (1, 3), (0, 10), (1, 10)]
  assert out["units"] == "return" and out["candidates"] == 3  # the test dataset has no score references
  assert pendulum_ckpt.config.masks.return_policy == "first"  # so the current step opens the planned window:
  assert out["horizon"] == pendulum_ckpt.config.window  # the current step and the imagined ones after it
  for d in out["decisions"]:
    earned, horizon = np.asarray(d["earned"]), np.asarray(d["horizon_earned"])
    assert len(d["values"]) == len(earned) == 3
    assert np.ptp(horizon) > 0  # the candidates' own actions earn different rewards from one restored state
    assert np.all(earned <= horizon + 1e-9)  # Pendulum's rewards are never positive: the rest of the episode adds
  assert out == {**out, **planner_ranking.summary(out["decisions"])}


def test_under_every_return_token_the_candidates_take_over_at_the_decision_step(minari_root, tmp_path, monkeypatch):
  """The ``all`` return policy (locomotion's) keeps one step of history: the planned horizon is the current step
  and the K - 2 after it. Each episode's continuations replay its actions before the decision step and part there."""
  train_and_evaluate(pendulum_config(**{"masks.return_policy": "all"}), str(tmp_path))
  ckpt = load_checkpoint(str(tmp_path))
  played = []  # each rollout.run's actions: the base episodes', then the continuations'
  run = rollout.run

  def recorded(envs, policy, **kw):
    episodes = run(envs, policy, **kw)
    played.append(episodes.actions)
    return episodes

  monkeypatch.setattr(rollout, "run", recorded)
  out = planner_ranking.planner_ranking(ckpt, 2, (6,), planner=PLANNER)
  assert out["horizon"] == ckpt.config.window - 1
  base, continued = played
  continued = continued.reshape(2, 3, *continued.shape[1:])  # [episode, candidate, step, da]
  np.testing.assert_array_equal(continued[:, :, :6], np.broadcast_to(base[:, None, :6], continued[:, :, :6].shape))
  assert np.all(np.ptp(continued[:, :, 6], axis=1) > 0)  # the candidates part at the decision step


def test_an_environment_that_does_not_replay_is_refused(pendulum_ckpt, monkeypatch):
  recorded = model_rollouts.recorded

  class Noisy:  # the dataset, its environments jittering their observations
    def __init__(self, dataset):
      self.dataset, self.rng = dataset, np.random.default_rng(0)

    def recover_environment(self):
      env = self.dataset.recover_environment()
      return gym.wrappers.TransformObservation(env, lambda o: o + self.rng.normal(0, 1e-3, o.shape), env.observation_space)

  monkeypatch.setattr(model_rollouts, "recorded", lambda config: Noisy(recorded(config)))
  with pytest.raises(RuntimeError, match="not deterministic"):
    planner_ranking.planner_ranking(pendulum_ckpt, 1, (3,), planner=PLANNER)


def test_the_means_are_over_decisions_and_a_tie_has_no_rank_correlation():
  decisions = [
    # the values order the candidates as their earned returns do: the choice (candidate 2) earns 2 more
    {"values": [0.1, 0.2, 0.3], "earned": [10.0, 11.0, 12.0]},
    # reversed: the choice (candidate 0) is the proposal itself, the best (candidate 2) 4 more
    {"values": [0.3, 0.2, 0.1], "earned": [10.0, 12.0, 14.0]},
    # every candidate earns the same: no rank correlation, no headroom
    {"values": [0.1, 0.2, 0.3], "earned": [5.0, 5.0, 5.0]},
  ]
  out = planner_ranking.summary(decisions)
  assert out["rank_correlation"] == pytest.approx(0.0)  # (1 + -1) / 2, the tie left out
  assert out["chosen_gain"] == pytest.approx(2 / 3) and out["headroom"] == pytest.approx(2.0)
  assert out["random_gain"] == pytest.approx(1.0)  # (1 + 2 + 0) / 3: the candidates' mean over the proposal
  assert out["spread"] == pytest.approx((np.std([10, 11, 12]) + np.std([10, 12, 14])) / 3)
  assert np.isnan(planner_ranking.summary([])["rank_correlation"])


def test_bad_arguments_are_clear_errors(pendulum_ckpt):
  from mtm_jax.errors import UserError

  with pytest.raises(UserError, match="episodes >= 1 and decision steps >= 0"):
    planner_ranking.planner_ranking(pendulum_ckpt, 0, (3,), planner=PLANNER)
  with pytest.raises(UserError, match="decision steps >= 0"):
    planner_ranking.planner_ranking(pendulum_ckpt, 1, (), planner=PLANNER)


def test_the_cli_prints_the_means_and_writes_every_decision(pendulum_run):
  cmd = [sys.executable, "-m", "experiments.rank_planner", f"--workdir={pendulum_run}", "--num_candidates=3", "--noise=0.5"]
  bad = subprocess.run([*cmd, "--steps=3,x"], env=process_env(), capture_output=True, text=True)
  assert bad.returncode != 0 and "--steps must be whole numbers separated by commas, got 3,x" in bad.stderr
  late = subprocess.run([*cmd, "--episodes=1", "--steps=500"], env=process_env(), capture_output=True, text=True)
  assert late.returncode != 0 and "no episode reached a decision step (500); choose earlier --steps" in late.stderr
  assert "Traceback" not in bad.stderr + late.stderr
  done = subprocess.run([*cmd, "--episodes=1", "--steps=3"], env=process_env(), capture_output=True, text=True)
  assert done.returncode == 0, done.stderr[-2000:]
  assert "1 decisions of 3 candidates" in done.stdout and "rank correlation of values and earned returns" in done.stdout
  out = json.load(open(os.path.join(pendulum_run, "planner_ranking_noise0.5_n3_1ep_steps3.json")))
  assert len(out["decisions"]) == 1 and len(out["decisions"][0]["earned"]) == 3
