import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from mtm_jax import experiment, make_predict, masks
from mtm_jax.model import build_model, dummy_inputs
from mtm_jax.normalization import identity_stats

T, B = 4, 2


@pytest.fixture
def setup(spec):
  config = ml_collections.ConfigDict(
    {
      "window": T,
      "spec": spec.to_dict(),
      "model": {
        "kind": "transformer",
        "token_layout": "per_modality",
        "width": 32,
        "num_heads": 2,
        "encoder_layers": 1,
        "decoder_layers": 1,
      },
    }
  )
  model = build_model(experiment.parse(config).model, spec, T)  # sections left out take their defaults
  params = {"model": jax.jit(model.init)(jax.random.key(0), *dummy_inputs(spec, T)), "norm": identity_stats(spec)}
  traj = {
    "states": jax.random.normal(jax.random.key(1), (B, T, 3)),
    "actions": jnp.zeros((B, T), jnp.int32),
    "returns": jnp.ones((B, T, 1)),
    "rewards": jnp.ones((B, T, 1)),
  }
  return config, params, traj


def test_outputs_in_raw_units(spec, setup):
  config, params, traj = setup
  predict = jax.jit(make_predict(config))
  mask = masks.fixed(spec, T, states=[0, 1], actions=[0])
  out = predict(params, traj, mask)
  assert out["states"].shape == (B, T, 3) and out["actions"].shape == (B, T, 4)
  np.testing.assert_allclose(np.exp(np.asarray(out["actions"])).sum(-1), 1.0, rtol=1e-5)  # log-probs
  # Shifting the data and the normalisation statistics together shifts the outputs: raw units.
  shift = jnp.asarray([10.0, -3.0, 2.0])
  moved = dict(
    params,
    norm=dict(params["norm"], states={"mean": params["norm"]["states"]["mean"] + shift, "std": params["norm"]["states"]["std"]}),
  )
  out_moved = predict(moved, dict(traj, states=traj["states"] + shift[None, None]), mask)
  np.testing.assert_allclose(np.asarray(out_moved["states"]), np.asarray(out["states"] + shift[None, None]), atol=1e-4)


def test_batch_masks_and_omitted_hidden_modalities(spec, setup):
  config, params, traj = setup
  predict = make_predict(config)
  mask = {"states": jnp.ones((B, T), bool)}
  partial = {"states": traj["states"]}
  out = predict(params, partial, mask)
  assert set(out) == set(spec.names)


@pytest.mark.parametrize(
  "change,message",
  [
    (lambda t, m: ({**t, "states": t["states"][..., :2]}, m), r"traj\['states'\] must be float \(2, 4, 3\)"),
    (lambda t, m: ({**t, "actions": t["actions"].astype(jnp.float32)}, m), r"traj\['actions'\] must be int \(2, 4\)"),
    (lambda t, m: ({**t, "goals": t["states"]}, m), r"unknown modality 'goals'"),
    (lambda t, m: (t, {**m, "states": jnp.ones((T + 1,), bool)}), r"mask\['states'\] must be bool \[4\] or \[2, 4\]"),
    (lambda t, m: ({k: v for k, v in t.items() if k != "states"}, m), r"traj\['states'\] is missing"),
  ],
)
def test_clear_errors(spec, setup, change, message):
  config, params, traj = setup
  mask = masks.fixed(spec, T, states=[0])
  traj, mask = change(traj, mask)
  with pytest.raises(ValueError, match=message):
    make_predict(config)(params, traj, mask)
