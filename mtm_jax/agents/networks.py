"""Networks and target updates the agents share: MLPs, a tanh-squashed Gaussian actor (SAC), a deterministic
actor (TD3), twin critics."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

INITS = ("lecun", "orthogonal")


def kernel_init(init: str, scale: float = 2.0**0.5):
  """flax's default (LeCun normal), or orthogonal with ``scale`` (jaxrl's, sqrt(2) for ReLU layers)."""
  if init not in INITS:
    raise ValueError(f"unknown kernel init {init!r}; choose from {INITS}")
  return nn.initializers.lecun_normal() if init == "lecun" else nn.initializers.orthogonal(scale)


class MLP(nn.Module):
  """ReLU hidden layers, a linear output layer."""

  hidden: Sequence[int]
  out: int
  init_scheme: str = "lecun"

  @nn.compact
  def __call__(self, x):
    for width in self.hidden:
      x = nn.relu(nn.Dense(width, kernel_init=kernel_init(self.init_scheme))(x))
    return nn.Dense(self.out, kernel_init=kernel_init(self.init_scheme))(x)


class TanhGaussianActor(nn.Module):
  """A Gaussian over pre-squash actions; ``__call__`` returns its (mean, log_std), actions live in [-1, 1].

  ``log_std_bound``: ``"clip"`` clips the raw log-std to ``log_std_range`` (jaxrl: [-10, 2]); ``"tanh"`` squashes it
  smoothly into the range. On standard-normal inputs a freshly initialised policy has a median std of 0.5 with the
  first settings (LeCun init, the squash into [-5, 2]) and 1.06 with the defaults (orthogonal init, the clip).
  """

  hidden: Sequence[int]
  action_dim: int
  init_scheme: str = "lecun"
  log_std_range: tuple[float, float] = (-10.0, 2.0)
  log_std_bound: str = "clip"

  @nn.compact
  def __call__(self, obs):
    x = obs
    for width in self.hidden:
      x = nn.relu(nn.Dense(width, kernel_init=kernel_init(self.init_scheme))(x))
    mean = nn.Dense(self.action_dim, kernel_init=kernel_init(self.init_scheme))(x)
    log_std = nn.Dense(self.action_dim, kernel_init=kernel_init(self.init_scheme, 1.0))(x)
    low, high = self.log_std_range
    if self.log_std_bound == "clip":
      return mean, jnp.clip(log_std, low, high)
    if self.log_std_bound == "tanh":
      return mean, low + 0.5 * (high - low) * (jnp.tanh(log_std) + 1.0)
    raise ValueError(f"unknown log_std_bound {self.log_std_bound!r}; choose clip or tanh")


class DeterministicActor(nn.Module):
  """A deterministic policy with actions in [-1, 1] (TD3)."""

  hidden: Sequence[int]
  action_dim: int

  @nn.compact
  def __call__(self, obs):
    return jnp.tanh(MLP(self.hidden, self.action_dim)(obs))


def sample_tanh_gaussian(mean, log_std, key):
  """A squashed sample and its log-probability (with the tanh change-of-variables correction)."""
  pre = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
  log_prob = -0.5 * (((pre - mean) / jnp.exp(log_std)) ** 2 + 2 * log_std + jnp.log(2 * jnp.pi))
  # log(1 - tanh(x)^2) written stably: 2 (log 2 - x - softplus(-2x))
  correction = 2.0 * (jnp.log(2.0) - pre - jax.nn.softplus(-2.0 * pre))
  return jnp.tanh(pre), jnp.sum(log_prob - correction, axis=-1)


class Critics(nn.Module):
  """``num`` independent Q(s, a) MLPs evaluated together; returns [num, B]."""

  hidden: Sequence[int]
  num: int = 2
  init_scheme: str = "lecun"

  @nn.compact
  def __call__(self, *inputs):
    """Q of the inputs concatenated: (obs, action), or one state-action representation."""
    ensemble = nn.vmap(
      MLP, variable_axes={"params": 0}, split_rngs={"params": True}, in_axes=None, out_axes=0, axis_size=self.num
    )
    return ensemble(self.hidden, 1, self.init_scheme)(jnp.concatenate(inputs, axis=-1))[..., 0]


def polyak(target, online, tau: float):
  """target <- (1 - tau) target + tau online."""
  return jax.tree_util.tree_map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


def critic_update(q_fn, opt: optax.GradientTransformation, params, opt_state, batch: dict, next_value, discount: float):
  """One step of the critics ``q_fn(params, obs, action) -> [num, B]`` towards r + discount * (1 - terminated) *
  next_value (held fixed).

  Returns (params, opt_state, loss, mean Q).
  """
  not_done = 1.0 - batch["terminated"].astype(jnp.float32)
  target_q = jax.lax.stop_gradient(batch["rewards"] + discount * not_done * next_value)

  def loss(params):
    q = q_fn(params, batch["obs"], batch["actions"])
    return jnp.mean((q - target_q[None]) ** 2), q.mean()

  (q_loss, q_mean), grads = jax.value_and_grad(loss, has_aux=True)(params)
  updates, opt_state = opt.update(grads, opt_state)
  return optax.apply_updates(params, updates), opt_state, q_loss, q_mean
