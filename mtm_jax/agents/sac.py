"""Soft actor-critic (Haarnoja et al., 2018): twin critics, a tanh-Gaussian actor, a learned temperature.

Everything is a pure function of an ``SACState`` and explicit keys; ``learn`` runs several updates in
one ``lax.scan``, sampling each batch from the on-device replay buffer, so a collection step costs
one dispatch however many updates it makes.

The defaults are the settings of the strong public JAX and PyTorch SACs (jaxrl, CleanRL): orthogonal
initialisation, the log-std clipped to [-10, 2] (the policy starts near std 1), target entropy -|A|/2, a
critic learning rate of 1e-3, and the actor and temperature updated on every second update (which also
makes an update cheaper on average). ``SACConfig.first()`` keeps the former settings, to compare learning
curves against; that comparison on locomotion is still to be run (issue 28).
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
  learning_rate: float = 3e-4  # the actor's and the temperature's
  critic_learning_rate: float = 1e-3  # CleanRL's; jaxrl uses 3e-4
  discount: float = 0.99
  tau: float = 0.005  # target critics' Polyak rate
  batch_size: int = 256
  init_temperature: float = 1.0
  target_entropy_scale: float = 0.5  # target entropy = -scale * action_dim (jaxrl's -|A|/2)
  policy_delay: int = 2  # the actor and temperature step on every policy_delay-th update, the critics on each
  init: str = "orthogonal"  # kernel initialisation of every layer: networks.INITS
  log_std_bound: str = "clip"  # the actor's log-std clipped to [-10, 2], or "tanh": squashed into [-5, 2]

  @classmethod
  def first(cls, **overrides) -> SACConfig:
    """The settings this project's datasets were first made with (kept to compare learning curves against)."""
    return cls(
      **{
        "critic_learning_rate": 3e-4,
        "target_entropy_scale": 1.0,
        "policy_delay": 1,
        "init": "lecun",
        "log_std_bound": "tanh",
        **overrides,
      }
    )


@flax.struct.dataclass
class SACState:
  actor: dict
  critic: dict
  target_critic: dict
  log_alpha: jax.Array
  actor_opt: optax.OptState
  critic_opt: optax.OptState
  alpha_opt: optax.OptState
  updates: jax.Array  # int []: updates made, which picks the ones that step the actor


class SAC:
  """The networks and optimisers of one SAC agent; methods are pure and jittable."""

  def __init__(self, config: SACConfig, obs_dim: int, action_dim: int):
    self.config, self.obs_dim, self.action_dim = config, obs_dim, action_dim
    if config.policy_delay < 1:
      raise ValueError(f"SAC policy_delay={config.policy_delay} must be at least 1")
    log_std_range = (-10.0, 2.0) if config.log_std_bound == "clip" else (-5.0, 2.0)  # jaxrl's; the first settings'
    self.actor = TanhGaussianActor(config.hidden, action_dim, config.init, log_std_range, config.log_std_bound)
    self.critics = Critics(config.hidden, init_scheme=config.init)
    self.opt = optax.adam(config.learning_rate)
    self.critic_opt = optax.adam(config.critic_learning_rate)
    self.target_entropy = -config.target_entropy_scale * action_dim
    self.jit_act = jax.jit(self.act)  # one compiled policy per agent, however many rollouts use it

  def init(self, key: jax.Array) -> SACState:
    actor_key, critic_key = jax.random.split(key)
    obs, action = jnp.zeros((1, self.obs_dim)), jnp.zeros((1, self.action_dim))
    actor = self.actor.init(actor_key, obs)
    critic = self.critics.init(critic_key, obs, action)
    log_alpha = jnp.asarray(jnp.log(self.config.init_temperature), jnp.float32)
    target = jax.tree_util.tree_map(jnp.copy, critic)  # its own buffers: the state is donated
    return SACState(
      actor,
      critic,
      target,
      log_alpha,
      self.opt.init(actor),
      self.critic_opt.init(critic),
      self.opt.init(log_alpha),
      jnp.zeros((), jnp.int32),
    )

  def act(self, actor_params, obs, key: jax.Array | None = None):
    """Actions in [-1, 1]: sampled with a key, the distribution's mode without one."""
    mean, log_std = self.actor.apply(actor_params, obs)
    if key is None:
      return jnp.tanh(mean)
    return sample_tanh_gaussian(mean, log_std, key)[0]

  def update(self, state: SACState, batch: dict, key: jax.Array) -> tuple[SACState, dict]:
    """One gradient step on the critics and, every ``policy_delay``-th update, on the actor and the temperature."""
    c = self.config
    next_key, actor_key = jax.random.split(key)
    alpha = jnp.exp(state.log_alpha)

    mean, log_std = self.actor.apply(state.actor, batch["next_obs"])
    next_action, next_log_prob = sample_tanh_gaussian(mean, log_std, next_key)
    next_q = self.critics.apply(state.target_critic, batch["next_obs"], next_action).min(axis=0)
    critic, critic_opt, q_loss, q_mean = critic_update(
      self.critics.apply, self.critic_opt, state.critic, state.critic_opt, batch, next_q - alpha * next_log_prob, c.discount
    )

    def actor_step(operands):
      actor, actor_opt, log_alpha, alpha_opt = operands

      def actor_loss(actor):
        mean, log_std = self.actor.apply(actor, batch["obs"])
        action, log_prob = sample_tanh_gaussian(mean, log_std, actor_key)
        q = self.critics.apply(critic, batch["obs"], action).min(axis=0)
        return jnp.mean(alpha * log_prob - q), log_prob.mean()

      (pi_loss, log_prob), grads = jax.value_and_grad(actor_loss, has_aux=True)(actor)
      updates, actor_opt = self.opt.update(grads, actor_opt)
      actor = optax.apply_updates(actor, updates)
      entropy_gap = jax.lax.stop_gradient(log_prob + self.target_entropy)
      alpha_grad = jax.grad(lambda log_alpha: -log_alpha * entropy_gap)(log_alpha)
      updates, alpha_opt = self.opt.update(alpha_grad, alpha_opt)
      return (actor, actor_opt, optax.apply_updates(log_alpha, updates), alpha_opt), (pi_loss, -log_prob)

    def skip(operands):  # NaN marks "not updated" in the metrics
      return operands, (jnp.full((), jnp.nan), jnp.full((), jnp.nan))

    operands = (state.actor, state.actor_opt, state.log_alpha, state.alpha_opt)
    # lax.cond runs one branch on CPU and GPU alike, so a skipped actor step costs nothing.
    (actor, actor_opt, log_alpha, alpha_opt), (pi_loss, entropy) = jax.lax.cond(
      state.updates % c.policy_delay == 0, actor_step, skip, operands
    )

    new_state = SACState(
      actor, critic, polyak(state.target_critic, critic, c.tau), log_alpha, actor_opt, critic_opt, alpha_opt, state.updates + 1
    )
    metrics = {"critic_loss": q_loss, "actor_loss": pi_loss, "q": q_mean, "entropy": entropy, "alpha": alpha}
    return new_state, metrics

  def learn(self, state: SACState, replay: replay_lib.Replay, key: jax.Array, num_updates: int):
    """``num_updates`` updates fused in one scan, each on a fresh batch from the replay; metrics are the last's."""
    return replay_lib.scan_updates(self.update, state, replay, key, num_updates, self.config.batch_size)
