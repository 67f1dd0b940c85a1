"""The packed MAE encoder computes what the dense one does, on random per-sample masks, overflow included."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mtm_jax import masks, packing
from mtm_jax.model import ModelConfig, build_model, dummy_inputs, token_visibility

T, B = 4, 8


def mixed_masks(spec, key):
  """Random per-sample masks, plus one all-visible sample and one that sees a single token."""
  visible, _ = masks.sample_batch(masks.make_sampler(spec, T, ["random"]), key, B)
  visible = {n: v.at[0].set(True) for n, v in visible.items()}
  first = spec.names[0]
  return {n: v.at[1].set(False).at[1, 2].set(n == first) for n, v in visible.items()}


def setup(spec, **options):
  cfg = ModelConfig(width=32, num_heads=2, encoder_layers=2, decoder_layers=1, **options)
  model = build_model(cfg, spec, T)
  params = jax.jit(model.init)(jax.random.key(0), *dummy_inputs(spec, T))
  traj = {
    m.name: jax.random.randint(jax.random.key(5), (B, T), 0, m.num_classes)
    if m.is_discrete
    else jax.random.normal(jax.random.key(5), (B, T, m.dim))
    for m in spec
  }
  visible = mixed_masks(spec, jax.random.key(1))
  return cfg, model, params, traj, visible


@pytest.mark.parametrize("layout,causal,groups", [("per_modality", False, 1), ("per_modality", True, 2), ("stacked", False, 2)])
def test_packed_matches_dense_and_overflow_falls_back(spec, layout, causal, groups):
  cfg, model, params, traj, visible = setup(spec, token_layout=layout, causal=causal)
  vis_BxN = token_visibility(spec, cfg.token_layout, visible)
  per_group = np.asarray(vis_BxN).reshape(groups, -1).sum(1)
  apply = jax.jit(lambda pack: model.apply(params, traj, visible, pack=pack), static_argnums=0)
  dense = apply(None)
  full = int(per_group.max())
  fitting = apply((groups, full))  # exactly full: the packed path
  overflowing = apply((groups, full - 1))  # one row short: the dense fallback
  second_tier = apply((groups, (full - 1, full + 8)))  # the tight tier is one row short: the looser one holds it
  for name in dense:
    np.testing.assert_allclose(np.asarray(fitting[name]), np.asarray(dense[name]), atol=2e-5, err_msg=name)
    np.testing.assert_allclose(np.asarray(second_tier[name]), np.asarray(dense[name]), atol=2e-5, err_msg=name)
    np.testing.assert_array_equal(np.asarray(overflowing[name]), np.asarray(dense[name]), err_msg=name)


def test_packed_gradients_of_hidden_inputs_are_zero(sar_spec):
  cfg, model, params, traj, visible = setup(sar_spec)
  capacity = int(np.asarray(token_visibility(sar_spec, cfg.token_layout, visible)).sum())

  def total(values):
    out = model.apply(params, dict(traj, **values), visible, pack=(1, capacity))
    return sum(jnp.sum(o * jnp.cos(jnp.arange(o.size).reshape(o.shape))) for o in out.values())

  grads = jax.grad(total)(traj)
  for name, g in grads.items():
    hidden = ~np.asarray(visible[name])
    assert np.all(np.asarray(g)[hidden] == 0.0), name
    assert np.any(np.asarray(g)[~hidden] != 0.0), name


def test_pack_unpack_round_trip():
  vis_BxN = jnp.asarray([[1, 0, 1], [0, 0, 0], [1, 1, 1], [0, 1, 0]], bool)
  x_BxNx2 = jnp.arange(24.0).reshape(4, 3, 2) + 1
  p = packing.Packing.create(vis_BxN, groups=2, capacity=4)
  packed = p.pack(x_BxNx2)
  assert packed.shape == (2, 4, 2)
  np.testing.assert_array_equal(np.asarray(p.unpack(packed)), np.asarray(x_BxNx2 * vis_BxN[..., None]))
  np.testing.assert_array_equal(np.asarray(packed[0, 2:]), 0.0)  # unused rows are zeros


def test_capacity_from_the_mask_distribution(sar_spec):
  sampler = masks.make_sampler(
    sar_spec,
    T,
    ["random_autoregressive"],
    return_policy="all",
    task_params={"random_autoregressive": {"keep_ratios": (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)}},
  )
  layout = "per_modality"
  counts = packing.measure(
    lambda v: token_visibility(sar_spec, layout, v),
    lambda k, n: masks.sample_batch(sampler, k, n)[0],
    jax.random.key(0),
    samples=4096,
  )
  assert 0 < counts.mean < counts.tokens == 3 * T
  capacity = counts.capacity(32)
  assert capacity % 8 == 0 and 32 * counts.mean < capacity <= 32 * 3 * T
  visible, _ = masks.sample_batch(sampler, jax.random.key(1), 32 * 200)  # 200 batches of 32, none overflow
  per_batch = np.asarray(token_visibility(sar_spec, layout, visible)).reshape(200, -1).sum(1)
  assert per_batch.max() <= capacity


def test_train_step_packs_large_batches_and_counts_overflows(sar_spec):
  import optax

  from mtm_jax.normalization import identity_stats
  from mtm_jax.train import TrainState, encoder_packing, make_train_step

  cfg = ModelConfig(width=16, num_heads=2, encoder_layers=1, decoder_layers=1)
  model = build_model(cfg, sar_spec, T)
  sampler = masks.make_sampler(sar_spec, T, ["random_autoregressive"], return_policy="all")
  assert encoder_packing(model, sar_spec, sampler, 32, 1, jax.random.key(0)) is None  # too small to pay
  groups, tiers = encoder_packing(model, sar_spec, sampler, 64, 1, jax.random.key(0))
  assert len(tiers) == 2 and tiers[0] < tiers[1]  # a tight tier most batches fit, and the loose one
  params = {"model": jax.jit(model.init)(jax.random.key(0), *dummy_inputs(sar_spec, T)), "norm": identity_stats(sar_spec)}
  batch = {
    "traj": {m.name: jax.random.normal(jax.random.key(1), (64, T, m.dim)) for m in sar_spec},
    "present": {m.name: jnp.ones((64, T), bool) for m in sar_spec},
  }
  opt = optax.adamw(1e-3)
  for cap, overflows in ((tiers, 0), (8, 1)):  # 8 rows cannot hold 64 samples' visible tokens: dense
    step = jax.jit(make_train_step(model, sar_spec, sampler, opt, "all", (groups, cap)))
    _, metrics = step(TrainState.create(params, opt), batch, jax.random.key(2))
    assert int(metrics["encoder_overflows"]) == overflows and np.isfinite(float(metrics["loss"]))
