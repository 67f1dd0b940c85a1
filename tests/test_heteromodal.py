"""Heteromodal data: episodes without actions, from a dataset that lacks them or a share kept by the loader."""

import dataclasses
import json

import numpy as np
import pytest
from conftest import pendulum_config, smoke_config, write_pendulum

from mtm_jax.data import minari_data
from mtm_jax.data.splits import labelled_episodes, prepare_data, training_split
from mtm_jax.errors import UserError
from mtm_jax.experiment import parse
from mtm_jax.train import train_and_evaluate


def unlabelled(*which):
  def spoil(i, obs, actions):
    if i in which:
      actions[:] = np.nan

  return spoil


def test_an_episode_whose_actions_are_all_nan_has_none(minari_root):
  write_pendulum("mtmtest/mixed-v0", episodes=5, spoil=unlabelled(1, 3))
  _, episodes, _ = minari_data.load("mtmtest/mixed-v0")
  assert ["actions" in e for e in episodes] == [True, False, True, False, True]
  assert all(e["states"].shape == (10, 3) for e in episodes)

  def half_nan(i, obs, actions):  # a NaN among real actions is bad data, not a missing modality
    if i == 2:
      actions[:5] = np.nan

  write_pendulum("mtmtest/half-nan-v0", spoil=half_nan)
  with pytest.raises(UserError, match="episode 2: actions is nan at step 0"):
    minari_data.load("mtmtest/half-nan-v0")
  write_pendulum("mtmtest/no-actions-v0", episodes=2, spoil=unlabelled(0, 1))
  with pytest.raises(UserError, match="every episode's actions are NaN"):
    minari_data.load("mtmtest/no-actions-v0")


def test_the_labelled_share_is_drawn_by_seed_from_the_episodes_with_actions():
  config = parse(smoke_config()).data
  episodes = [{"states": 0, "actions": 0}] * 6 + [{"states": 0}] * 2  # the last two have none
  pick = lambda **kw: labelled_episodes(config.__class__(**{**config.__dict__, **kw}), episodes)  # noqa: E731
  assert pick() == (0, 1, 2, 3, 4, 5)
  half = pick(action_fraction=0.5, action_seed=1)
  assert len(half) == 3 and set(half) <= set(range(6)) and half == pick(action_fraction=0.5, action_seed=1)
  assert any(pick(action_fraction=0.5, action_seed=s) != half for s in range(2, 6))
  assert pick(action_fraction=0.01) and len(pick(action_fraction=0.01)) == 1  # never none
  assert pick(labelled_episodes=(4, 6, 2)) == (2, 4)  # named ones, of those that have actions
  with pytest.raises(UserError, match="beyond the 8 training episodes"):
    pick(labelled_episodes=(9,))


def test_heteromodal_training_never_sees_the_dropped_actions_and_records_the_kept_ones(minari_root, tmp_path):
  config = pendulum_config(
    **{"data.action_fraction": 0.25, "data.action_seed": 3, "train.num_steps": 3, "train.checkpoint_every": 3}
  )
  exp = parse(config)
  spec, train_eps, val_eps, labelled = training_split(exp.data)
  assert len(labelled) == 2 and [i for i, e in enumerate(train_eps) if "actions" in e] == list(labelled)
  assert all("actions" in e for e in val_eps)  # held-out episodes keep theirs, to be scored on
  _, train, val, stats = prepare_data(exp.data, exp.window)
  assert int(np.asarray(train.present["actions"]).sum()) == sum(len(train_eps[i]["actions"]) for i in labelled)
  assert np.asarray(train.present["states"]).sum() > 4 * np.asarray(train.present["actions"]).sum()
  labelled_actions = np.concatenate([train_eps[i]["actions"] for i in labelled])
  np.testing.assert_allclose(stats["actions"]["mean"], labelled_actions.mean(0), rtol=1e-5)  # stats: real ones only
  # labelled windows are repeated to make up at least data.labelled_share (0.5) of the draws; 0: as many as they are
  drawn = lambda data: float(np.asarray(data.present["actions"])[np.asarray(data.starts)].mean())  # noqa: E731
  natural = drawn(prepare_data(dataclasses.replace(exp.data, labelled_share=0.0), exp.window)[1])
  assert natural < 0.4 and 0.5 <= drawn(train) < 0.5 + natural
  assert drawn(prepare_data(dataclasses.replace(exp.data, labelled_share=0.9), exp.window)[1]) >= 0.9
  train_and_evaluate(config, str(tmp_path))
  stored = json.load(open(tmp_path / "config.json"))["data"]
  assert stored["labelled_episodes"] == list(labelled) and stored["action_fraction"] == 0.25


def test_dropping_the_unlabelled_episodes_trains_on_the_labelled_ones_alone(minari_root):
  exp = parse(pendulum_config(**{"data.action_fraction": 0.25, "data.action_seed": 3, "data.unlabelled": "drop"}))
  _, train_eps, val_eps, labelled = training_split(exp.data)
  _, all_eps, all_val, _ = training_split(parse(pendulum_config()).data)
  assert len(train_eps) == len(labelled) == 2 and all("actions" in e for e in train_eps)
  np.testing.assert_array_equal(train_eps[1]["states"], all_eps[labelled[1]]["states"])
  assert len(val_eps) == len(all_val)  # the same held-out episodes


def test_a_bad_share_is_a_config_error():
  from mtm_jax.experiment import ConfigError

  with pytest.raises(ConfigError, match=r"data.action_fraction=0.0: must be in \(0, 1\]"):
    parse(smoke_config(**{"data.action_fraction": 0}))
  with pytest.raises(ConfigError, match="data.labelled_episodes"):
    parse(smoke_config(**{"data.labelled_episodes": (-1,)}))
  with pytest.raises(ConfigError, match="data.unlabelled='hide': must be one of"):
    parse(smoke_config(**{"data.unlabelled": "hide"}))
