"""The pure, jitted train step: masks drawn inside it, packed encoder, non-finite steps skipped."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from mtm_jax import masks, packing
from mtm_jax.loss import masked_loss, scored_tokens, token_losses
from mtm_jax.model import token_visibility
from mtm_jax.normalization import normalize
from mtm_jax.predict import apply_normalized
from mtm_jax.spec import DatasetSpec
from mtm_jax.train.state import TrainState


def encoder_packing(model, spec: DatasetSpec, sampler: Callable, batch_size: int, groups: int, key: jax.Array):
  """``(groups, capacities)`` for the model's ``pack`` argument, measured on the sampler's masks;
  None where nothing can be packed (the MLP baseline, or one encoder over all tokens) or where a device's
  batch is too small for packing to pay (its gathers and extra compiled branches cost more than it saves)."""
  cfg = model.config
  if cfg.kind != "transformer" or cfg.decoder_layers == 0 or batch_size // groups < packing.MIN_GROUP:
    return None
  counts = packing.measure(
    lambda v: token_visibility(spec, cfg.token_layout, v), lambda k, n: masks.sample_batch(sampler, k, n)[0], key
  )
  return groups, counts.tiers(batch_size // groups)


def make_train_step(
  model,
  spec: DatasetSpec,
  sampler: Callable,
  optimizer,
  loss_on: str,
  pack: tuple[int, int] | None = None,
  mask_granularity: str = "sample",
) -> Callable:
  """A pure ``train_step(state, batch, key) -> (state, metrics)``; masks are drawn inside it.

  pack: ``encoder_packing``'s result, or None for the dense encoder (the two compute the same outputs).
  mask_granularity: ``masks.sample_batch``'s (a mask per sample, or one per batch).
  """
  options = {} if pack is None else {"pack": pack}

  def loss_fn(model_params, norm, batch, visible, target, dropout_key):
    traj = batch["traj"]
    outputs = apply_normalized(
      model, {"model": model_params, "norm": norm}, traj, visible, deterministic=False, rngs={"dropout": dropout_key}, **options
    )
    per_token = token_losses(outputs, normalize(traj, norm), spec)
    return masked_loss(per_token, scored_tokens(visible, target, batch["present"], loss_on))

  traces = 0

  def train_step(state: TrainState, batch: dict, key: jax.Array):
    # Like chex.assert_max_traces(n=1), but per step function: chex counts per code location, so
    # two runs in one process (tests, sweeps) would trip it.
    nonlocal traces
    traces += 1
    if traces > 1:
      raise AssertionError("train_step was traced twice: an input changed shape or dtype between steps")
    mask_key, dropout_key = jax.random.split(key)
    batch_size = next(iter(batch["present"].values())).shape[0]
    visible, target = masks.sample_batch(sampler, mask_key, batch_size, mask_granularity)
    visible, target = masks.apply_presence(visible, target, batch["present"])
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, per_modality), grads = grad_fn(state.params["model"], state.params["norm"], batch, visible, target, dropout_key)
    grad_norm = optax.tree.norm(grads)
    finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)

    def update(grads, opt_state, params):
      updates, opt_state = optimizer.update(grads, opt_state, params)
      return optax.apply_updates(params, updates), opt_state

    # A non-finite step is skipped: parameters and optimizer state stay as they were. A cond, not a
    # where over every leaf: the where read both trees and copied the donated ones (~5 % of a CPU step).
    new_model, opt_state = jax.lax.cond(
      finite, update, lambda _, opt_state, params: (params, opt_state), grads, state.opt_state, state.params["model"]
    )
    overflowed = 0  # past the loosest tier: the dense fallback ran
    if pack is not None:
      vis_BxN = token_visibility(spec, model.config.token_layout, visible)
      overflowed = ~packing.fits(vis_BxN, pack[0], max(packing.tiers_of(pack[1])))
    new_state = TrainState(
      step=state.step + 1,
      params={"model": new_model, "norm": state.params["norm"]},
      opt_state=opt_state,
      nonfinite_streak=jnp.where(finite, 0, state.nonfinite_streak + 1),
      encoder_overflows=state.encoder_overflows + overflowed,
    )
    metrics = {
      "loss": loss,
      "grad_norm": grad_norm,
      "nonfinite_streak": new_state.nonfinite_streak,
      "encoder_overflows": new_state.encoder_overflows,
    }
    metrics.update({f"loss/{k}": v for k, v in per_modality.items()})
    return new_state, metrics

  return train_step


def step_key(base_key: jax.Array, step: int) -> jax.Array:
  return jax.random.fold_in(base_key, step)
