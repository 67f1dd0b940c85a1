"""The experiment config at the boundary: each violation is one line naming the key, the value and what is allowed;
a valid config becomes frozen dataclasses that round-trip through a checkpoint."""

import dataclasses

import pytest
from conftest import smoke_config

from mtm_jax.checkpoint import load_checkpoint
from mtm_jax.experiment import ConfigError, parse
from mtm_jax.train import train_and_evaluate

BAD = [
  ({"train.batch_size": 0}, "train.batch_size=0: must be a positive integer"),
  ({"train.num_steps": -5}, "train.num_steps=-5: must be a positive integer"),
  ({"train.learning_rate": 0.0}, "train.learning_rate=0.0: must be a positive number"),
  ({"train.learning_rate": float("nan")}, "train.learning_rate=nan: must be a positive number"),
  ({"window": 0}, "window=0: must be a positive integer"),
  ({"model.width": 30, "model.num_heads": 4}, "model.width=30: must be even and divisible by model.num_heads=4"),
  ({"model.dropout": 1.0}, "model.dropout=1.0: must be in [0, 1)"),
  ({"model.token_layout": "flat"}, "model.token_layout='flat': must be one of"),
  ({"train.regime": "magic"}, "train.regime='magic': must be one of"),
  ({"train.regime": "finetune", "masks.tasks": ("bc",)}, "train.init_from='': must be the workdir of a trained run"),
  ({"data.source": "hdf5"}, "data.source='hdf5': must be one of ('sinusoid', 'minari')"),
  ({"masks.tasks": ("bc", "fly")}, "masks.tasks=('bc', 'fly'): has unknown tasks ['fly']"),
  ({"masks.weights": (1.0, -1.0)}, "masks.weights=(1.0, -1.0): must all be >= 0"),
  ({"eval.num_windows": 0}, "eval.num_windows=0: must be a positive integer"),
  (
    {"masks.task_params.random_autoregressive.keep_ratios": (0.0, 0.5)},
    "masks.task_params.random_autoregressive.keep_ratios=(0.0, 0.5): every entry must be in (0, 1]",
  ),
  (
    {"masks.task_params.random_autoregressive.mode_weights": (1.0, -0.1, 1.0)},
    "masks.task_params.random_autoregressive.mode_weights=(1.0, -0.1, 1.0): every entry must be >= 0",
  ),
  ({"data.dataset": "x"}, "data.dataset='x': unknown key; data has ["),
  ({"model.dropout_placement": "everywhere"}, "model.dropout_placement='everywhere': must be one of"),
  ({"model.param_init": "jax"}, "model.param_init='jax': must be one of"),
  (
    {"model.token_layout": "stacked", "model.decoder_embed": "per_modality"},
    "model.decoder_embed='per_modality': per_modality needs model.token_layout='per_modality'",
  ),
  ({"train.mask_granularity": "epoch"}, "train.mask_granularity='epoch': must be one of ('sample', 'batch')"),
  ({"data.unscaled_below_std": -0.1}, "data.unscaled_below_std=-0.1: must be a number >= 0"),
  ({"data.train_steps": -1}, "data.train_steps=-1: must be an integer >= 0 (0: all)"),
  ({"data.num_train": -3}, "data.num_train=-3: must be an integer >= 0 (0: all)"),
  ({"data.train_steps": 500, "model.max_horizon": 64}, "data.train_steps=500: cuts an episode short"),
  ({"model.dtype": "float64"}, "model.dtype='float64': must be 'float32', 'bfloat16' or 'float16'"),
  (
    {"train.regime": "single_task", "masks.tasks": ("goal",), "window": 1},
    "masks.task_params.goal={} with window=1: task 'goal' needs a window of at least 2 steps",
  ),
]


@pytest.mark.parametrize("overrides, line", BAD, ids=[",".join(o) for o, _ in BAD])
def test_each_violation_is_one_line(overrides, line):
  with pytest.raises(ConfigError) as err:
    parse(smoke_config(**overrides))
  assert any(got.startswith(line) for got in str(err.value).splitlines()[1:]), str(err.value)


def test_several_violations_are_all_listed_and_nothing_is_built(tmp_path):
  with pytest.raises(ConfigError) as err:
    train_and_evaluate(smoke_config(**{"train.batch_size": 0, "window": -1}), str(tmp_path / "run"))
  assert len(str(err.value).splitlines()) == 3  # the heading and two violations
  assert not (tmp_path / "run").exists()


def test_frozen_parts_round_trip_through_a_checkpoint(tmp_path):
  config = smoke_config(**{"train.num_steps": 2, "train.checkpoint_every": 2})
  exp = parse(config)
  assert exp.model.width == config.model.width and exp.masks.tasks == tuple(config.masks.tasks)
  assert exp.masks.params("random_autoregressive")["keep_ratios"] == tuple(
    config.masks.task_params.random_autoregressive.keep_ratios
  )
  with pytest.raises(dataclasses.FrozenInstanceError):
    exp.train.batch_size = 64
  assert parse(exp.to_dict()) == exp and parse(exp) == exp
  train_and_evaluate(config, str(tmp_path))
  stored = load_checkpoint(str(tmp_path)).config
  assert stored.spec is not None and dataclasses.replace(stored, spec=None) == exp


def test_keys_an_older_config_lacks_take_their_defaults():
  old = smoke_config().to_dict()
  del old["data"]["on_nonfinite"], old["train"]["tensorboard"], old["eval"]["seed"]
  exp = parse(old, training=False)
  assert (exp.data.on_nonfinite, exp.train.tensorboard, exp.eval.seed) == ("error", True, 1234)
