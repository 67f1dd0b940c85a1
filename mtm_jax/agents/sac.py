"""Soft actor-critic (Haarnoja et al., 2018): twin critics, a tanh-Gaussian actor, a learned temperature.

Everything is a pure function of an ``SACState`` and explicit keys; ``learn`` runs several updates in
one ``lax.scan``, sampling each batch from the on-device replay buffer, so a collection step costs
one dispatch however many updates it makes.
"""

from __future__ import annotations

import dataclasses

import flax
import jax
import jax.numpy as jnp
import optax

from mtm_jax.agents import replay as replay_lib
from mtm_jax.agents.networks import Critics, TanhGaussianActor, critic_update, polyak, sample_tanh_gaussian


@dataclasses.dataclass(frozen=True)
class SACConfig:
  hidden: tuple[int, ...] = (256, 256)
  learning_rate: float = 3e-4
  discount: float = 0.99
  tau: float = 0.005  # target critics' Polyak rate
  batch_size: int = 256
  init_temperature: float = 1.0
  target_entropy_scale: float = 1.0  # target entropy = -scale * action_dim


@flax.struct.dataclass
class SACState:
  actor: dict
  critic: dict
  target_critic: dict
  log_alpha: jax.Array
  actor_opt: optax.OptState
  critic_opt: optax.OptState
  alpha_opt: optax.OptState


class SAC:
  """The networks and optimisers of one SAC agent; methods are pure and jittable."""

  def __init__(self, config: SACConfig, obs_dim: int, action_dim: int):
    self.config, self.obs_dim, self.action_dim = config, obs_dim, action_dim
    self.actor = TanhGaussianActor(config.hidden, action_dim)
    self.critics = Critics(config.hidden)
    self.opt = optax.adam(config.learning_rate)
    self.target_entropy = -config.target_entropy_scale * action_dim
    self.jit_act = jax.jit(self.act)  # one compiled policy per agent, however many rollouts use it

  def init(self, key: jax.Array) -> SACState:
    actor_key, critic_key = jax.random.split(key)
    obs, action = jnp.zeros((1, self.obs_dim)), jnp.zeros((1, self.action_dim))
    actor = self.actor.init(actor_key, obs)
    critic = self.critics.init(critic_key, obs, action)
    log_alpha = jnp.asarray(jnp.log(self.config.init_temperature), jnp.float32)
    target = jax.tree_util.tree_map(jnp.copy, critic)  # its own buffers: the state is donated
    return SACState(actor, critic, target, log_alpha, self.opt.init(actor), self.opt.init(critic), self.opt.init(log_alpha))

  def act(self, actor_params, obs, key: jax.Array | None = None):
    """Actions in [-1, 1]: sampled with a key, the distribution's mode without one."""
    mean, log_std = self.actor.apply(actor_params, obs)
    if key is None:
      return jnp.tanh(mean)
    return sample_tanh_gaussian(mean, log_std, key)[0]

  def update(self, state: SACState, batch: dict, key: jax.Array) -> tuple[SACState, dict]:
    """One gradient step on the critics, the actor and the temperature."""
    c = self.config
    next_key, actor_key = jax.random.split(key)
    alpha = jnp.exp(state.log_alpha)

    mean, log_std = self.actor.apply(state.actor, batch["next_obs"])
    next_action, next_log_prob = sample_tanh_gaussian(mean, log_std, next_key)
    next_q = self.critics.apply(state.target_critic, batch["next_obs"], next_action).min(axis=0)
    critic, critic_opt, q_loss, q_mean = critic_update(self.critics.apply, self.opt, state.critic, state.critic_opt, batch,
                                                       next_q - alpha * next_log_prob, c.discount)

    def actor_loss(actor):
      mean, log_std = self.actor.apply(actor, batch["obs"])
      action, log_prob = sample_tanh_gaussian(mean, log_std, actor_key)
      q = self.critics.apply(critic, batch["obs"], action).min(axis=0)
      return jnp.mean(alpha * log_prob - q), log_prob.mean()

    (pi_loss, log_prob), grads = jax.value_and_grad(actor_loss, has_aux=True)(state.actor)
    updates, actor_opt = self.opt.update(grads, state.actor_opt)
    actor = optax.apply_updates(state.actor, updates)

    entropy_gap = jax.lax.stop_gradient(log_prob + self.target_entropy)
    alpha_grad = jax.grad(lambda log_alpha: -log_alpha * entropy_gap)(state.log_alpha)
    updates, alpha_opt = self.opt.update(alpha_grad, state.alpha_opt)
    log_alpha = optax.apply_updates(state.log_alpha, updates)

    new_state = SACState(actor, critic, polyak(state.target_critic, critic, c.tau), log_alpha, actor_opt, critic_opt, alpha_opt)
    metrics = {"critic_loss": q_loss, "actor_loss": pi_loss, "q": q_mean, "entropy": -log_prob, "alpha": alpha}
    return new_state, metrics

  def learn(self, state: SACState, replay: replay_lib.Replay, key: jax.Array, num_updates: int):
    """``num_updates`` updates fused in one scan, each on a fresh batch from the replay; metrics are the last's."""
    return replay_lib.scan_updates(self.update, state, replay, key, num_updates, self.config.batch_size)
