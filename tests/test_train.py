import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import pendulum_config, smoke_config

from mtm_jax import load_checkpoint, make_predict, masks
from mtm_jax.errors import UserError
from mtm_jax.model import ModelConfig, build_model, dummy_inputs
from mtm_jax.normalization import identity_stats
from mtm_jax.optimizer import decay_mask
from mtm_jax.train import TrainState, make_train_step, train_and_evaluate


def losses(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line)["loss"] for line in f]


def test_two_devices_match_one(tmp_path):
  assert jax.device_count() == 2
  runs = {}
  for n in (1, 2):
    config = smoke_config(**{"train.num_devices": n, "train.log_every": 1, "train.num_steps": 8})
    train_and_evaluate(config, str(tmp_path / f"dev{n}"))
    runs[n] = losses(str(tmp_path / f"dev{n}"))
  assert len(runs[1]) == 8
  np.testing.assert_allclose(runs[1], runs[2], rtol=1e-5, atol=1e-5)
  assert runs[1][-1] < runs[1][0]


@pytest.mark.parametrize(
  "regime,tasks",
  [("single_task", ("bc",)), ("multi_task", ("bc", "rcbc", "forward_dynamics")), ("random", ()), ("random_autoregressive", ())],
)
def test_regimes_train_and_predict(minari_root, tmp_path, regime, tasks):
  config = pendulum_config(**{"train.regime": regime, "masks.tasks": tasks or ("bc",), "model.token_layout": "stacked"})
  train_and_evaluate(config, str(tmp_path))
  assert all(np.isfinite(losses(str(tmp_path))))
  ckpt = load_checkpoint(str(tmp_path))
  assert ckpt.step == config.train.num_steps and ckpt.spec.names == ("states", "actions", "returns")
  traj = {
    "states": np.zeros((2, 5, 3), np.float32),
    "returns": np.zeros((2, 5, 1), np.float32),
    "steps_remaining": np.full((2, 5), 30, np.int32),
  }
  out = make_predict(ckpt.config)(ckpt.params, traj, masks.fixed(ckpt.spec, 5, states=[0, 1], returns=[0]))
  assert out["actions"].shape == (2, 5, 1)


def test_reference_mtm_options_train(tmp_path):
  """The options that reproduce the reference MTM's choices (benchmarks/parity_reference.py) train end to end."""
  config = smoke_config(
    **{
      "train.mask_granularity": "batch",
      "masks.task_params.random_autoregressive.ratio_per_modality": True,
      "model.dropout": 0.1,
      "model.dropout_placement": "torch",
      "model.token_init": "zeros",
      "model.decoder_embed": "per_modality",
      "model.param_init": "torch",
      "data.unscaled_below_std": 0.1,
      "train.num_steps": 3,
    }
  )
  state = train_and_evaluate(config, str(tmp_path))
  assert int(state.step) == 3 and all(np.isfinite(losses(str(tmp_path))))
  assert "decoder_embed_states" in load_checkpoint(str(tmp_path)).params["model"]["params"]


def test_finetune_starts_from_pretrained(minari_root, tmp_path):
  pre = str(tmp_path / "pre")
  train_and_evaluate(pendulum_config(**{"train.regime": "random"}), pre)
  fine = pendulum_config(
    **{
      "train.regime": "finetune",
      "masks.tasks": ("bc",),
      "train.init_from": pre,
      "train.learning_rate": 1e-4,
      "train.num_steps": 2,
      "train.warmup_steps": 1,
    }
  )
  train_and_evaluate(fine, str(tmp_path / "fine"))
  a, b = load_checkpoint(pre).params, load_checkpoint(str(tmp_path / "fine")).params
  # One small step away from the pretrained weights, not a fresh initialisation.
  diffs = jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda x, y: float(np.abs(x - y).max()), a, b))
  assert 0 < max(diffs) < 1e-3


def test_regime_errors(tmp_path):
  with pytest.raises(UserError, match="exactly one task"):
    train_and_evaluate(smoke_config(**{"train.regime": "single_task", "masks.tasks": ("bc", "past")}), str(tmp_path))
  with pytest.raises(UserError, match="init_from"):
    train_and_evaluate(smoke_config(**{"train.regime": "finetune", "masks.tasks": ("past",)}), str(tmp_path))
  with pytest.raises(UserError, match="divisible"):
    train_and_evaluate(smoke_config(**{"train.batch_size": 15}), str(tmp_path))


def test_nonfinite_guard_stops_with_clear_error(tmp_path):
  # An infinite learning rate passes the config check (it is positive) and makes every update non-finite.
  config = smoke_config(**{"train.learning_rate": float("inf"), "train.max_nonfinite_steps": 3, "train.log_every": 5})
  with pytest.raises(FloatingPointError, match=r"NaN/Inf for \d+ steps in a row"):
    train_and_evaluate(config, str(tmp_path))


def test_weight_decay_only_on_kernels():
  params = {
    "Dense_0": {"kernel": np.ones((2, 2)), "bias": np.ones(2)},
    "LayerNorm_0": {"scale": np.ones(2)},
    "enc_mask_token_states": np.ones(2),
    "Embed_0": {"embedding": np.ones((3, 2))},
  }
  mask = decay_mask(params)
  assert mask["Dense_0"]["kernel"] and not mask["Dense_0"]["bias"] and not mask["LayerNorm_0"]["scale"]
  assert not mask["enc_mask_token_states"] and not mask["Embed_0"]["embedding"]


def test_a_non_finite_step_leaves_parameters_and_optimizer_state_as_they_were(sar_spec):
  T = 4
  model = build_model(ModelConfig(width=16, num_heads=2, encoder_layers=1, decoder_layers=1), sar_spec, T)
  sampler = masks.make_sampler(sar_spec, T, ["random_autoregressive"], return_policy="all")
  params = {"model": jax.jit(model.init)(jax.random.key(0), *dummy_inputs(sar_spec, T)), "norm": identity_stats(sar_spec)}
  opt = optax.adamw(1e-3)
  step = jax.jit(make_train_step(model, sar_spec, sampler, opt, "all"))
  state = TrainState.create(params, opt)
  traj = {m.name: jax.random.normal(jax.random.key(1), (8, T, m.dim)) for m in sar_spec}
  present = {m.name: jnp.ones((8, T), bool) for m in sar_spec}
  for bad, streak in ((True, 1), (False, 0)):
    values = {k: v.at[0].set(jnp.nan) for k, v in traj.items()} if bad else traj
    new, metrics = step(state, {"traj": values, "present": present}, jax.random.key(2))
    assert int(metrics["nonfinite_streak"]) == streak and int(new.step) == 1
    same = jax.tree_util.tree_map(
      lambda a, b: bool(jnp.array_equal(a, b)), (new.params, new.opt_state), (state.params, state.opt_state)
    )
    assert all(jax.tree_util.tree_leaves(same)) == bad  # skipped: all equal; taken: the update moved something


def test_the_first_two_steps_match_their_golden_metrics(tmp_path):
  """Pins what two train steps of the sinusoid smoke config compute (the first at warmup's zero learning rate,
  the second after one update), so a change that moves the numbers of training shows here first."""
  from mtm_jax.run_log import read

  config = smoke_config(**{"train.num_steps": 2, "train.log_every": 1, "train.num_devices": 1, "train.tensorboard": False})
  train_and_evaluate(config, str(tmp_path))
  got = [{k: row[k] for k in ("step", "lr", "loss", "grad_norm", "encoder_overflows")} for row in read(str(tmp_path))]
  golden = [
    {"step": 1, "lr": 0.0, "loss": 2.439911365509033, "grad_norm": 12.702618598937988, "encoder_overflows": 0.0},
    {
      "step": 2,
      "lr": 2.0000000949949026e-4,
      "loss": 2.184539318084717,
      "grad_norm": 13.785943031311035,
      "encoder_overflows": 0.0,
    },
  ]
  for row, want in zip(got, golden, strict=True):
    assert row == pytest.approx(want, rel=1e-4), row


def test_training_scores_the_held_out_tasks_the_config_asks_for(tmp_path):
  from mtm_jax.run_log import EVAL, read

  config = smoke_config(**{"train.num_steps": 6, "eval.every": 4, "eval.tasks": ("future", "bc")})
  train_and_evaluate(config, str(tmp_path))
  rows = read(str(tmp_path), EVAL)
  assert [r["step"] for r in rows] == [4, 6]  # every eval.every steps, and at the end
  assert all(set(r) == {"step", "eval/future"} for r in rows)  # bc has no actions to score in sinusoids
  assert all(np.isfinite(r["eval/future"]) for r in rows)
