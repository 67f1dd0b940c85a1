"""``make_predict(config)``: a pure, jittable ``predict(params, traj, mask)`` in raw dataset units."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from mtm_jax import experiment
from mtm_jax.model import build_model
from mtm_jax.normalization import denormalize, normalize
from mtm_jax.spec import DatasetSpec


def apply_normalized(model, params, traj, visible, *, deterministic=True, rngs=None, **options):
  """Model outputs in normalised units for raw-unit ``traj``; params = {"model", "norm"}; ``options``: the
  model's keyword arguments (``pack``)."""
  return model.apply(params["model"], normalize(traj, params["norm"]), visible, deterministic=deterministic, rngs=rngs, **options)


def _batch_size(traj: Mapping, mask: Mapping) -> int:
  for source in (traj, mask):
    for value in source.values():
      if np.ndim(value) >= 2:
        return int(np.shape(value)[0])
  return 1


def validate(spec: DatasetSpec, window: int, traj: Mapping, mask: Mapping, needs_steps: bool):
  """Broadcast masks to [B,T] and fill hidden, omitted modalities; raise one-line errors otherwise."""
  for name in list(traj) + list(mask):
    if name not in spec and name != "steps_remaining":
      raise ValueError(f"unknown modality {name!r}; this model knows {list(spec.names)}")
  B = _batch_size(traj, mask)
  full_mask, full_traj = {}, {}
  for m in spec:
    v = jnp.asarray(mask.get(m.name, np.zeros((window,), bool)))
    if v.dtype != jnp.bool_ or v.shape not in ((window,), (B, window)):
      raise ValueError(f"mask[{m.name!r}] must be bool [{window}] or [{B}, {window}], got {v.dtype} {v.shape}")
    full_mask[m.name] = jnp.broadcast_to(v, (B, window))
    expected = (B, window) + m.trailing_shape()
    if m.name not in traj:
      if m.name in mask:
        raise ValueError(f"traj[{m.name!r}] is missing but mask names it: pass {expected} values, or leave it out of mask")
      full_traj[m.name] = jnp.zeros(expected, jnp.int32 if m.is_discrete else jnp.float32)
      continue
    x = jnp.asarray(traj[m.name])
    kind_ok = jnp.issubdtype(x.dtype, jnp.integer) if m.is_discrete else jnp.issubdtype(x.dtype, jnp.floating)
    if x.shape != expected or not kind_ok:
      want = "int" if m.is_discrete else "float"
      raise ValueError(f"traj[{m.name!r}] must be {want} {expected}, got {x.dtype} {x.shape}")
    full_traj[m.name] = x
  if needs_steps:
    steps = traj.get("steps_remaining")
    if steps is None or jnp.shape(steps) != (B, window):
      raise ValueError(f"traj['steps_remaining'] must be int [{B}, {window}] (the model embeds steps remaining)")
    full_traj["steps_remaining"] = jnp.asarray(steps)
  return full_traj, full_mask


def make_predict(config, spec: DatasetSpec | None = None) -> Callable:
  """predict(params, traj, mask) -> outputs: continuous values [B,T,d] (raw units), discrete log-probs [B,T,C].

  ``config``: a checkpoint's ``Experiment`` (``load_checkpoint(...).config``) or an experiment ConfigDict;
  ``spec`` defaults to the one stored in it.
  """
  exp = experiment.parse(config, training=False)
  spec = spec or exp.require_spec()
  model = build_model(exp.model, spec, exp.window)
  window = exp.window
  needs_steps = exp.model.max_horizon > 0

  def predict(params, traj: Mapping, mask: Mapping) -> dict:
    traj, mask = validate(spec, window, traj, mask, needs_steps)
    outputs = apply_normalized(model, params, traj, mask)
    outputs = denormalize(outputs, params["norm"])
    return {m.name: jax.nn.log_softmax(outputs[m.name]) if m.is_discrete else outputs[m.name] for m in spec}

  return predict
