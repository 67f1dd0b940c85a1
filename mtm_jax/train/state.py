"""The training state: parameters, optimizer state and the step's counters, and the device mesh it lives on."""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp

from mtm_jax.errors import UserError


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any  # {"model": trainable, "norm": normalisation statistics (not trained)}
  opt_state: Any
  nonfinite_streak: jax.Array  # consecutive skipped (NaN/Inf) steps
  encoder_overflows: jax.Array  # steps (since this process started) whose visible tokens overflowed the packing

  @classmethod
  def create(cls, params, optimizer) -> TrainState:
    """Step 0: optimizer state over params["model"]; each counter its own buffer (donation forbids sharing)."""
    zeros = lambda: jnp.zeros((), jnp.int32)  # noqa: E731
    return cls(
      step=zeros(), params=params, opt_state=optimizer.init(params["model"]), nonfinite_streak=zeros(), encoder_overflows=zeros()
    )


def make_mesh(num_devices: int = 0) -> jax.sharding.Mesh:
  devices = jax.devices()
  n = num_devices or len(devices)
  if n > len(devices):
    raise UserError(f"train.num_devices={n} but only {len(devices)} devices are visible")
  # Auto axes: XLA's partitioner places the gathers and reductions (Explicit axes would demand
  # out-shardings on every embedding lookup).
  return jax.make_mesh((n,), ("data",), axis_types=(jax.sharding.AxisType.Auto,), devices=devices[:n])
