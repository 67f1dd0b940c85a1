"""A trained MTM's encoder as the state (or state-action) representation of an RL agent (the MTM paper's
representation experiments).

The representation of a state is the encoder's output at its state token when it is the only visible token
of a one-step window; that of a state-action pair is the encoder's outputs at both tokens with just the two
visible, concatenated. The MAE encoder attends to visible tokens only and time positions are sinusoidal, so a
one-step model gives exactly what the trained window's first step would: the model is rebuilt with window 1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mtm_jax.checkpoint import Checkpoint
from mtm_jax.errors import UserError
from mtm_jax.model import build_model
from mtm_jax.predict import apply_normalized
from mtm_jax.spec import ACTIONS, STATES


class MTMRepresentation:
  """``state(params, obs [B, ds]) -> [B, W]`` and ``state_action(params, obs, action [B, da]) -> [B, 2W]``; params
  (``.params``: the checkpoint's model and normalisation) are an argument so that an agent can fine-tune them.

  action_low/high: the environment's action bounds; actions come in the agent's [-1, 1] units.
  """

  def __init__(self, checkpoint: Checkpoint, action_low, action_high):
    exp, spec = checkpoint.config, checkpoint.spec
    problems = []
    if exp.model.kind != "transformer" or exp.model.causal:
      problems.append("a bidirectional transformer (model.kind='transformer', causal False)")
    if exp.model.positions != "sinusoidal":
      problems.append("sinusoidal time positions (a learned table is tied to the trained window)")
    if STATES not in spec or spec[STATES].is_discrete:
      problems.append("continuous states")
    if problems:
      raise UserError(f"an MTM representation needs {', '.join(problems)}; this checkpoint's model does not have it")
    self.spec, self.width = spec, exp.model.width
    self.model = build_model(exp.model, spec, window=1)
    self.params = jax.tree_util.tree_map(jnp.asarray, checkpoint.params)
    self.low, self.high = (jnp.asarray(b, jnp.float32)[None] for b in (action_low, action_high))  # [1, da]
    self.max_horizon = exp.model.max_horizon

  def _encode(self, params, values: dict) -> dict:
    """Encoder outputs [B, W] at the tokens of ``values`` (the only visible ones of a one-step window)."""
    B = next(iter(values.values())).shape[0]
    traj, visible = {}, {}
    for m in self.spec:
      shape = (B, 1) + m.trailing_shape()
      traj[m.name] = (
        values[m.name][:, None] if m.name in values else jnp.zeros(shape, jnp.int32 if m.is_discrete else jnp.float32)
      )
      visible[m.name] = jnp.full((B, 1), m.name in values)
    if self.max_horizon > 0:  # embedded only beside a visible return, and none is
      traj["steps_remaining"] = jnp.zeros((B, 1), jnp.int32)
    features = apply_normalized(self.model, params, traj, visible, features="encoder")
    return {name: features[name][:, 0] for name in values}

  def state(self, params, obs):
    return self._encode(params, {STATES: obs})[STATES]

  def state_action(self, params, obs, action_unit):
    if ACTIONS not in self.spec:
      raise UserError("this MTM was trained without actions: it has no state-action representation")
    action = self.low + (action_unit + 1.0) * 0.5 * (self.high - self.low)
    out = self._encode(params, {STATES: obs, ACTIONS: action})
    return jnp.concatenate([out[STATES], out[ACTIONS]], axis=-1)
