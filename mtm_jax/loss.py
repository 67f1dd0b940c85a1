"""Masked-prediction losses: MSE for continuous modalities, cross-entropy for discrete ones."""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import optax

from mtm_jax.spec import DatasetSpec


def token_losses(outputs: Mapping, traj_normalized: Mapping, spec: DatasetSpec) -> dict:
  """Per-token loss [B, T] of every modality (continuous: mean squared error over features)."""
  out = {}
  for m in spec:
    pred, true = outputs[m.name], traj_normalized[m.name]
    if m.is_discrete:
      out[m.name] = optax.softmax_cross_entropy_with_integer_labels(pred, true)
    else:
      out[m.name] = jnp.mean(jnp.square(pred - true.astype(jnp.float32)), axis=-1)
  return out


def masked_loss(per_token: Mapping, scored: Mapping) -> tuple[jax.Array, dict]:
  """Sum over modalities of each modality's mean over its scored tokens (0 where none are)."""
  per_modality = {}
  for name, loss_BxT in per_token.items():
    weight_BxT = scored[name].astype(jnp.float32)
    per_modality[name] = jnp.sum(loss_BxT * weight_BxT) / jnp.maximum(jnp.sum(weight_BxT), 1.0)
  return sum(per_modality.values()), per_modality


def scored_tokens(visible: Mapping, target: Mapping, present: Mapping, loss_on: str) -> dict:
  """Which tokens a training loss covers: the targets, or every present token (MTM's choice)."""
  if loss_on == "hidden":
    return {k: target[k] & present[k] for k in target}
  if loss_on == "all":
    return {k: (target[k] | visible[k]) & present[k] for k in target}
  raise ValueError(f"train.loss_on must be 'hidden' or 'all', got {loss_on!r}")
