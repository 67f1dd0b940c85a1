"""Visible tokens packed into a fixed-capacity array, so the MAE encoder's dense work skips hidden ones.

A batch's tokens split into G groups (one per data-parallel device, so packing never moves tokens
between devices); each group's visible tokens are gathered into ``K`` rows. ``K`` is static: a
batch whose visible count exceeds it is computed densely instead (never a dropped token), so the
capacity only decides speed. Training compiles two tiers of ``K`` and takes the tightest that fits.
``K`` comes from the mask distribution: the number of visible tokens of a group of b samples is a sum
of b independent draws, so it concentrates near b times the mean.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import flax
import jax
import jax.numpy as jnp
import numpy as np

OVERFLOW_SIGMAS = 4.5  # capacity above the mean: a one-sided normal tail of ~3e-6 per group
# A tighter tier below it: ~84 % of groups fit at one sigma, and they skip 3.5 sigmas of padding rows.
TIGHT_SIGMAS = 1.0
MIN_GROUP = 64  # samples per device below which training keeps the dense encoder


@flax.struct.dataclass
class Packing:
  """Where each group's visible tokens sit in the packed array, and back."""

  index_GxK: jax.Array  # flat token index (within the group) of each packed row; M (a zero row) where unused
  slot_GxM: jax.Array  # packed row of each token; K (a zero row) for hidden tokens
  shape: tuple[int, int] = flax.struct.field(pytree_node=False)  # (B, N) of the unpacked tokens

  @classmethod
  def create(cls, visible_BxN: jax.Array, groups: int, capacity: int) -> Packing:
    B, N = visible_BxN.shape
    vis_GxM = visible_BxN.reshape(groups, (B // groups) * N)
    G, M = vis_GxM.shape
    rank_GxM = jnp.cumsum(vis_GxM, axis=1) - 1
    slot_GxM = jnp.where(vis_GxM & (rank_GxM < capacity), rank_GxM, capacity)
    rows_GxM = jnp.broadcast_to(jnp.arange(G)[:, None], (G, M))
    index_GxK = jnp.full((G, capacity), M).at[rows_GxM, slot_GxM].set(jnp.broadcast_to(jnp.arange(M), (G, M)), mode="drop")
    return cls(index_GxK=index_GxK, slot_GxM=slot_GxM, shape=(B, N))

  def pack(self, x_BxNx___: jax.Array) -> jax.Array:
    """[B, N, ...] -> [G, K, ...] (visible tokens only)."""
    G = self.index_GxK.shape[0]
    x_GxMx___ = x_BxNx___.reshape((G, -1) + x_BxNx___.shape[2:])
    return _take_rows(x_GxMx___, self.index_GxK)

  def unpack(self, x_GxKx___: jax.Array) -> jax.Array:
    """[G, K, ...] -> [B, N, ...] with zeros at hidden tokens."""
    return _take_rows(x_GxKx___, self.slot_GxM).reshape(self.shape + x_GxKx___.shape[2:])


def _take_rows(x_GxRx___, index_GxS):
  """x[g, index[g, s]] with index R meaning a row of zeros."""
  pad = jnp.zeros((x_GxRx___.shape[0], 1) + x_GxRx___.shape[2:], x_GxRx___.dtype)
  padded = jnp.concatenate([x_GxRx___, pad], axis=1)
  return jax.vmap(lambda rows, idx: rows[idx])(padded, index_GxS)


def tiers_of(capacity) -> tuple[int, ...]:
  """A ``pack`` capacity as rising tiers: one capacity, or several."""
  return (int(capacity),) if isinstance(capacity, numbers.Integral) else tuple(sorted(capacity))


def fits(visible_BxN: jax.Array, groups: int, capacity: int) -> jax.Array:
  """Whether every group's visible tokens fit in ``capacity`` rows."""
  return jnp.all(jnp.sum(visible_BxN.reshape(groups, -1), axis=1) <= capacity)


@dataclasses.dataclass(frozen=True)
class VisibleCounts:
  """Mean and std of one sample's visible token count, measured on the mask sampler."""

  mean: float
  std: float
  tokens: int  # tokens per sample (N)

  def capacity(self, group_size: int, sigmas: float = OVERFLOW_SIGMAS) -> int:
    """Rows for a group of ``group_size`` samples, a multiple of 8 (vector-friendly), at most every token."""
    rows = group_size * self.mean + sigmas * self.std * math.sqrt(group_size)
    return int(min(group_size * self.tokens, 8 * math.ceil(rows / 8)))

  def tiers(self, group_size: int) -> tuple[int, ...]:
    """Rising capacities for the model's ``pack``: a tight one most groups fit, and the loose one."""
    return tuple(sorted({self.capacity(group_size, TIGHT_SIGMAS), self.capacity(group_size)}))


def measure(token_visibility, sampler_draw, key: jax.Array, samples: int = 16384) -> VisibleCounts:
  """Visible-count statistics of ``samples`` masks: ``sampler_draw(key, n)`` -> visible masks of n samples,
  ``token_visibility`` maps them to bool [n, N] (the model's tokens)."""
  vis_SxN = np.asarray(jax.jit(lambda k: token_visibility(sampler_draw(k, samples)))(key))
  counts = vis_SxN.sum(axis=1)
  return VisibleCounts(mean=float(counts.mean()), std=float(counts.std()), tokens=int(vis_SxN.shape[1]))
