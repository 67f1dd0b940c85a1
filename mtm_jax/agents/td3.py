"""TD3 (Fujimoto et al., 2018) and, with ``bc_alpha > 0``, TD3+BC (Fujimoto & Gu, 2021), for learning
offline from a fixed replay: twin critics with clipped double-Q targets, target-policy smoothing, and a
delayed actor and target update.

Like SAC, everything is a pure function of a ``TD3State`` and explicit keys, and ``learn`` fuses many
updates in one ``lax.scan`` over batches drawn from the on-device replay.

What the networks see (``TD3Config.inputs``, the MTM paper's representation variants):
  raw             the observation
  state           an MTM's state representation (``representation.MTMRepresentation``), frozen
  state_finetune  the same, fine-tuned by the critic loss (the actor reads it without a gradient, as in DrQ)
  state_action    the actor reads the frozen state representation, the critics a frozen state-action one
The encoder's parameters live in the critic's tree (``critic["encoder"]``), so the target critic carries the
target encoder; in the frozen variants its optimiser leaves them unchanged.
"""

from __future__ import annotations

import dataclasses

import flax
import jax
import jax.numpy as jnp
import optax

from mtm_jax.agents import replay as replay_lib
from mtm_jax.agents.networks import Critics, DeterministicActor, critic_update, polyak

INPUTS = ("raw", "state", "state_finetune", "state_action")


@dataclasses.dataclass(frozen=True)
class TD3Config:
  hidden: tuple[int, ...] = (256, 256)
  learning_rate: float = 3e-4
  discount: float = 0.99
  tau: float = 0.005  # target networks' Polyak rate
  batch_size: int = 256
  policy_noise: float = 0.2  # target-policy smoothing noise (std, in [-1, 1] action units)
  noise_clip: float = 0.5
  policy_delay: int = 2  # critic updates per actor and target update
  bc_alpha: float = 0.0  # > 0: TD3+BC, the actor maximises bc_alpha / mean|Q| * Q - (a - a_data)^2 (2.5 in the paper)
  inputs: str = "raw"  # what the networks see: INPUTS
  encoder_learning_rate: float = 1e-4  # of a fine-tuned representation (the MTM's own training rate)


@flax.struct.dataclass
class TD3State:
  actor: dict
  critic: dict
  target_actor: dict
  target_critic: dict
  actor_opt: optax.OptState
  critic_opt: optax.OptState
  step: jax.Array


class TD3:
  """The networks and optimisers of one TD3 agent; methods are pure and jittable."""

  def __init__(self, config: TD3Config, obs_dim: int, action_dim: int, representation=None):
    """representation: an ``MTMRepresentation``, needed by every ``inputs`` but raw."""
    if config.policy_delay < 1 or config.bc_alpha < 0:
      raise ValueError(f"TD3 needs policy_delay >= 1 and bc_alpha >= 0, got {config.policy_delay}, {config.bc_alpha}")
    if config.inputs not in INPUTS:
      raise ValueError(f"TD3Config.inputs={config.inputs!r}: choose from {INPUTS}")
    if config.inputs == "raw" and representation is not None:
      raise ValueError("TD3Config.inputs='raw' takes no representation; choose another inputs to use one")
    if config.inputs != "raw" and representation is None:
      raise ValueError(f"TD3Config.inputs={config.inputs!r} needs a representation (an MTMRepresentation of a trained MTM)")
    self.config, self.obs_dim, self.action_dim, self.rep = config, obs_dim, action_dim, representation
    self.actor = DeterministicActor(config.hidden, action_dim)
    self.critics = Critics(config.hidden)
    self.opt = optax.adam(config.learning_rate)
    encoder_opt = optax.adam(config.encoder_learning_rate) if config.inputs == "state_finetune" else optax.set_to_zero()
    # The encoder's normalisation statistics stay those of its data, fine-tuned or not.
    labels = lambda tree: {"q": "q", "encoder": {k: "encoder" if k == "model" else "fixed" for k in tree["encoder"]}}  # noqa: E731
    self.critic_opt = optax.multi_transform({"q": self.opt, "encoder": encoder_opt, "fixed": optax.set_to_zero()}, labels)

  def init(self, key: jax.Array) -> TD3State:
    actor_key, critic_key = jax.random.split(key)
    obs, action = jnp.zeros((1, self.obs_dim)), jnp.zeros((1, self.action_dim))
    encoder = {} if self.rep is None else self.rep.params
    if self.config.inputs == "state_action":
      q = self.critics.init(critic_key, self.rep.state_action(encoder, obs, action))
    else:
      q = self.critics.init(critic_key, self._state(encoder, obs), action)
    copy = lambda tree: jax.tree_util.tree_map(jnp.copy, tree)  # noqa: E731  (own buffers: the state is donated)
    actor, critic = self.actor.init(actor_key, self._state(encoder, obs)), {"q": q, "encoder": copy(encoder)}
    return TD3State(
      actor, critic, copy(actor), copy(critic), self.opt.init(actor), self.critic_opt.init(critic), jnp.zeros((), jnp.int32)
    )

  def _state(self, encoder, obs):
    """What the actor (and, but for state_action, the critics) see of a state."""
    return obs if self.rep is None else self.rep.state(encoder, obs)

  def _q(self, critic, obs, action):
    """[2, B] twin Q values; only a fine-tuned encoder takes the gradient."""
    encoder = critic["encoder"] if self.config.inputs == "state_finetune" else jax.lax.stop_gradient(critic["encoder"])
    if self.config.inputs == "state_action":
      return self.critics.apply(critic["q"], self.rep.state_action(encoder, obs, action))
    return self.critics.apply(critic["q"], self._state(encoder, obs), action)

  def _pi(self, actor, critic, obs):
    return self.actor.apply(actor, self._state(jax.lax.stop_gradient(critic["encoder"]), obs))

  def act(self, state: TD3State, obs):
    """Actions in [-1, 1]."""
    return self._pi(state.actor, state.critic, obs)

  def update(self, state: TD3State, batch: dict, key: jax.Array) -> tuple[TD3State, dict]:
    """One critic step; every ``policy_delay``-th call also an actor step and the target updates."""
    c = self.config
    noise = jnp.clip(c.policy_noise * jax.random.normal(key, batch["actions"].shape), -c.noise_clip, c.noise_clip)
    next_action = jnp.clip(self._pi(state.target_actor, state.target_critic, batch["next_obs"]) + noise, -1.0, 1.0)
    next_q = self._q(state.target_critic, batch["next_obs"], next_action).min(axis=0)
    critic, critic_opt, q_loss, q_mean = critic_update(
      self._q, self.critic_opt, state.critic, state.critic_opt, batch, next_q, c.discount
    )

    def actor_loss(actor):
      action = self._pi(actor, critic, batch["obs"])
      q = self._q(critic, batch["obs"], action)[0]
      if c.bc_alpha == 0:
        return -q.mean()
      scale = c.bc_alpha / jax.lax.stop_gradient(jnp.abs(q).mean())
      return -scale * q.mean() + jnp.mean((action - batch["actions"]) ** 2)

    pi_loss, grads = jax.value_and_grad(actor_loss)(state.actor)
    updates, actor_opt = self.opt.update(grads, state.actor_opt)
    delayed = (state.step + 1) % c.policy_delay == 0
    pick = lambda new, old: jax.tree_util.tree_map(lambda n, o: jnp.where(delayed, n, o), new, old)  # noqa: E731
    actor = pick(optax.apply_updates(state.actor, updates), state.actor)
    new_state = TD3State(
      actor=actor,
      critic=critic,
      target_actor=pick(polyak(state.target_actor, actor, c.tau), state.target_actor),
      target_critic=pick(polyak(state.target_critic, critic, c.tau), state.target_critic),
      actor_opt=pick(actor_opt, state.actor_opt),
      critic_opt=critic_opt,
      step=state.step + 1,
    )
    return new_state, {"critic_loss": q_loss, "actor_loss": pi_loss, "q": q_mean}

  def learn(self, state: TD3State, replay: replay_lib.Replay, key: jax.Array, num_updates: int):
    """``num_updates`` updates fused in one scan, each on a fresh batch from the replay; metrics are the last's."""
    return replay_lib.scan_updates(self.update, state, replay, key, num_updates, self.config.batch_size)
