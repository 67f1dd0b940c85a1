import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mtm_jax import masks
from mtm_jax.model import ModelConfig, build_model, dummy_inputs

T, B = 5, 3
OPTIONS = [
  dict(kind="transformer", token_layout=layout, decoder_layers=dec, causal=causal, positions=pos)
  for layout, dec, causal, pos in itertools.product(["stacked", "per_modality"], [0, 1], [False, True], ["sinusoidal", "learned"])
] + [
  dict(kind="mlp"),
  dict(
    kind="transformer",
    token_layout="per_modality",
    decoder_layers=1,
    token_init="zeros",
    decoder_embed="per_modality",
    dropout_placement="torch",
    param_init="torch",
  ),
]


def random_traj(spec, key):
  keys = jax.random.split(key, len(spec.names) + 1)
  traj = {
    m.name: jax.random.randint(k, (B, T), 0, m.num_classes) if m.is_discrete else jax.random.normal(k, (B, T, m.dim))
    for m, k in zip(spec, keys)
  }
  traj["steps_remaining"] = jax.random.randint(keys[-1], (B, T), 0, 20)
  return traj


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_hidden_inputs_never_leak(spec, options):
  cfg = ModelConfig(width=32, num_heads=2, encoder_layers=1, max_horizon=10, mlp_hidden=(32,), **options)
  model = build_model(cfg, spec, T)
  params = jax.jit(model.init)(jax.random.key(0), *dummy_inputs(spec, T, 1, 10))
  visible, _ = masks.sample_batch(masks.make_sampler(spec, T, ["random"]), jax.random.key(1), B)
  # Hide the first return of sample 0 so the steps-remaining input is hidden there too.
  visible["returns"] = visible["returns"].at[0, 0].set(False)
  traj_a, traj_b = random_traj(spec, jax.random.key(2)), random_traj(spec, jax.random.key(3))
  # traj_c: traj_a's visible values with traj_b's (and NaN) values in every hidden slot.
  traj_c = {}
  for m in spec:
    v = visible[m.name] if m.is_discrete else visible[m.name][..., None]
    hidden_fill = traj_b[m.name] if m.is_discrete else traj_b[m.name].at[0].set(jnp.nan)
    traj_c[m.name] = jnp.where(v, traj_a[m.name], hidden_fill)
  gate = visible["returns"][:, :1]
  traj_c["steps_remaining"] = jnp.where(gate, traj_a["steps_remaining"], traj_b["steps_remaining"])
  apply = jax.jit(lambda t: model.apply(params, t, visible))
  out_a, out_c = apply(traj_a), apply(traj_c)
  for name in out_a:
    assert out_a[name].shape[:2] == (B, T)
    np.testing.assert_array_equal(np.asarray(out_a[name]), np.asarray(out_c[name]), err_msg=name)

  continuous = [m.name for m in spec if not m.is_discrete]

  def total(values):
    t = dict(traj_a, **values)
    out = model.apply(params, t, visible)
    return sum(jnp.sum(o * jnp.cos(jnp.arange(o.size).reshape(o.shape))) for o in out.values())

  grads = jax.grad(total)({n: traj_a[n] for n in continuous})
  for n in continuous:
    g = np.asarray(grads[n])
    hidden = ~np.asarray(visible[n])
    assert np.all(g[hidden] == 0.0), n
    if np.asarray(visible[n]).any():
      assert np.any(g[~hidden] != 0.0), n  # visible inputs do matter


def test_causal_outputs_ignore_later_tokens(sar_spec):
  cfg = ModelConfig(width=32, num_heads=2, encoder_layers=1, decoder_layers=0, causal=True, token_layout="per_modality")
  model = build_model(cfg, sar_spec, T)
  traj, visible = dummy_inputs(sar_spec, T, B)
  params = jax.jit(model.init)(jax.random.key(0), traj, visible)
  traj_a = {k: jax.random.normal(jax.random.key(1), v.shape) for k, v in traj.items()}
  traj_b = {k: v.at[:, 3:].set(5.0) for k, v in traj_a.items()}
  out_a, out_b = model.apply(params, traj_a, visible), model.apply(params, traj_b, visible)
  for name in out_a:
    np.testing.assert_array_equal(np.asarray(out_a[name][:, :3]), np.asarray(out_b[name][:, :3]))
    assert not np.allclose(np.asarray(out_a[name][:, 3:]), np.asarray(out_b[name][:, 3:]))


def test_config_errors():
  with pytest.raises(ValueError, match="token_layout"):
    ModelConfig(token_layout="diagonal")
  with pytest.raises(ValueError, match="model.width=30: must be even and divisible by model.num_heads=4"):
    ModelConfig(width=30, num_heads=4)


def test_torch_init_draws_within_pytorchs_bounds(sar_spec):
  W = 64
  traj, visible = dummy_inputs(sar_spec, T, 1)
  params = {}
  for scheme in ("flax", "torch"):
    model = build_model(ModelConfig(width=W, mlp_ratio=4, param_init=scheme), sar_spec, T)
    params[scheme] = jax.jit(model.init)(jax.random.key(0), traj, visible)["params"]
  block = params["torch"]["encoder"]["Block_0"]
  up, down = block["Dense_0"], block["Dense_1"]  # the MLP: W -> 4W -> W
  assert np.abs(up["kernel"]).max() <= 1 / np.sqrt(W) and np.abs(down["kernel"]).max() <= 1 / np.sqrt(4 * W)
  assert 0 < np.abs(up["bias"]).max() <= 1 / np.sqrt(W)  # PyTorch's Linear biases are drawn, not zero
  qkv = block["Attention_0"]["qkv"]
  assert np.abs(qkv["kernel"]).max() <= np.sqrt(6 / (W + 3 * W)) and not np.any(qkv["bias"])  # Xavier, zero bias
  # flax's LeCun normal kernels are sqrt(3) times wider than PyTorch's uniform ones
  ratio = np.std(params["flax"]["encoder"]["Block_0"]["Dense_0"]["kernel"]) / np.std(up["kernel"])
  assert 1.4 < ratio < 2.0
  assert jax.tree_util.tree_structure(params["flax"]) == jax.tree_util.tree_structure(params["torch"])
