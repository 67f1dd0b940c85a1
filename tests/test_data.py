import dataclasses

import jax
import numpy as np
import pytest
from conftest import pendulum_config

from mtm_jax import data, experiment
from mtm_jax.data import minari_data, sinusoid, windows
from mtm_jax.data.splits import training_split
from mtm_jax.errors import UserError
from mtm_jax.normalization import compute_stats
from mtm_jax.spec import CONTINUOUS, DatasetSpec, ModalitySpec


def test_sinusoid_is_bimodal():
  eps = sinusoid.generate(400, 16, noise=0.0, seed=0)
  x = np.stack([e["states"][:, 0] for e in eps])
  assert x.shape == (400, 16) and np.abs(x).max() <= 1
  # Same first half up to phase, second half flipped in about half the sequences.
  second = np.sign(x[:, 12] * x[:, 3])
  assert 0.35 < (second > 0).mean() < 0.65


def test_returns_to_go():
  np.testing.assert_allclose(windows.returns_to_go(np.array([1.0, 2.0, 3.0])), [6, 5, 3])
  np.testing.assert_allclose(windows.returns_to_go(np.array([1.0, 1.0]), 0.5), [1.5, 1.0])


def test_windows_mark_padding_absent_and_stats_ignore_it():
  spec = DatasetSpec((ModalitySpec("states", CONTINUOUS, 1), ModalitySpec("actions", CONTINUOUS, 1)))
  short = {"states": np.full((2, 1), 5.0), "actions": np.ones((2, 1))}
  long = {"states": np.arange(6.0)[:, None]}  # state-only (heteromodal)
  data_ = windows.build([short, long], spec, window=4)
  assert data_.num_windows == 1 + 3
  batch = windows.gather(data_, data_.starts, 4)
  np.testing.assert_array_equal(np.asarray(batch["present"]["states"][0]), [True, True, False, False])
  np.testing.assert_array_equal(np.asarray(batch["present"]["actions"][1]), [False] * 4)
  np.testing.assert_array_equal(np.asarray(batch["traj"]["steps_remaining"][1]), [6, 5, 4, 3])
  stats = compute_stats(windows.real_steps([short, long], spec), spec)
  np.testing.assert_allclose(stats["states"]["mean"], [(10 + 15) / 8])
  assert stats["actions"]["std"][0] == 1.0  # constant feature: std clamped to 1
  # The reference MTM's rule: a feature with std below 0.1 is centred, not scaled.
  narrow = {"states": np.array([[0.0], [0.1]]), "actions": np.array([[0.0], [1.0]])}
  stats = compute_stats(narrow, spec, unscaled_below_std=0.1)
  np.testing.assert_allclose([stats["states"]["std"][0], stats["actions"]["std"][0]], [1.0, 0.5])


def test_sampling_is_on_device_and_deterministic():
  data_ = windows.build(sinusoid.generate(10, 12), sinusoid.SPEC, window=4)
  sample = jax.jit(lambda k: windows.sample(data_, k, 8, 4))
  a, b = sample(jax.random.key(0)), sample(jax.random.key(0))
  np.testing.assert_array_equal(np.asarray(a["traj"]["states"]), np.asarray(b["traj"]["states"]))
  assert a["traj"]["states"].shape == (8, 4, 1)


def test_split_by_episode():
  eps = [{"states": np.full((3, 1), i)} for i in range(10)]
  train, val = windows.split_episodes(eps, 0.2)
  assert [int(e["states"][0, 0]) for e in val] == [8, 9] and len(train) == 8
  with pytest.raises(ValueError, match="at least 2 episodes"):
    windows.split_episodes(eps[:1], 0.5)
  train, val = windows.split_episodes(eps, 0.0, num_validation=4, num_train=3)  # data-size studies
  assert [int(e["states"][0, 0]) for e in train] == [0, 1, 2] and len(val) == 4
  with pytest.raises(ValueError, match="num_train=7 but only 6"):
    windows.split_episodes(eps, 0.0, num_validation=4, num_train=7)


def test_a_share_of_steps_keeps_whole_episodes_then_part_of_the_next():
  eps = [{"states": np.arange(n)[:, None] + 10 * i, "returns": np.full((n, 1), float(i))} for i, n in enumerate((3, 5, 4, 6))]
  train, val = windows.split_episodes(eps, 0.0, num_validation=1, train_steps=6)
  assert [len(e["states"]) for e in train] == [3, 3] and len(val) == 1
  np.testing.assert_array_equal(train[1]["states"][:, 0], [10, 11, 12])  # the second episode's first 3 steps
  assert train[1]["returns"].shape == (3, 1)  # every modality cut alike
  train, _ = windows.split_episodes(eps, 0.0, num_validation=1, train_steps=8)  # exactly two episodes: none cut
  assert [len(e["states"]) for e in train] == [3, 5]
  with pytest.raises(ValueError, match="train_steps=13 but the training episodes hold 12 steps"):
    windows.split_episodes(eps, 0.0, num_validation=1, train_steps=13)


def test_minari_loader(minari_root):
  spec, episodes, _ = minari_data.load("mtmtest/pendulum-random-v0")
  assert spec.names == ("states", "actions", "returns")
  assert spec["states"].dim == 3 and spec["actions"].dim == 1
  assert len(episodes) == 12 and episodes[0]["states"].shape == (30, 3)
  config = pendulum_config()
  spec2, eps2 = data.load(experiment.parse(config).data)
  assert spec2 == spec and len(eps2) == 12
  with_rewards, _, _ = minari_data.load("mtmtest/pendulum-random-v0", include_rewards=True)
  assert "rewards" in with_rewards


def test_minari_returns_are_rewards_to_go(minari_root):
  import minari

  ds = minari.load_dataset("mtmtest/pendulum-random-v0")
  rewards = next(iter(ds.iterate_episodes())).rewards
  _, episodes, _ = minari_data.load("mtmtest/pendulum-random-v0")
  np.testing.assert_allclose(episodes[0]["returns"][:, 0], np.cumsum(rewards[::-1])[::-1], rtol=1e-5)


def test_minari_average_returns_divide_by_the_steps_left_to_the_horizon(minari_root):
  _, sums, _ = minari_data.load("mtmtest/pendulum-random-v0")
  _, averages, metadata = minari_data.load("mtmtest/pendulum-random-v0", returns="average")
  assert metadata["returns_horizon"] == 30  # the recorded environment's time limit
  np.testing.assert_allclose(averages[0]["returns"][:, 0], sums[0]["returns"][:, 0] / (30 - np.arange(30)), rtol=1e-6)
  with pytest.raises(UserError, match="data.returns='mean'; choose from"):
    minari_data.load("mtmtest/pendulum-random-v0", returns="mean")


def test_missing_minari_dataset_says_what_to_do(minari_root):
  with pytest.raises(UserError, match="not on this machine.*download=True"):
    minari_data.load("mtmtest/absent-v0")


def test_a_data_configs_train_steps_reach_the_training_split():
  config = experiment.DataConfig(source="sinusoid", num_episodes=10, episode_length=32, num_validation=2, train_steps=40)
  _, train, val, _ = training_split(config)
  assert [len(e["states"]) for e in train] == [32, 8] and len(val) == 2
  _, train, _, _ = training_split(dataclasses.replace(config, train_steps=5))  # the first episode, cut
  assert [len(e["states"]) for e in train] == [5]
  _, train, _, _ = training_split(dataclasses.replace(config, num_train=1, train_steps=32))  # both limits at once
  assert [len(e["states"]) for e in train] == [32]
  with pytest.raises(ValueError, match="train_steps=33 but the training episodes hold 32 steps"):
    training_split(dataclasses.replace(config, num_train=1, train_steps=33))
