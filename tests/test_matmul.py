"""matmul.dense_dot: the values and gradients of lax.dot_general, for every Dense pattern the model uses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from mtm_jax.matmul import dense_dot


@pytest.mark.parametrize(
  "x_shape,k_shape,n",
  [((6, 5, 8), (8, 12), 1), ((6, 5, 8), (8, 3, 2, 4), 1), ((6, 5, 2, 4), (2, 4, 8), 2)],
  ids=["dense", "qkv", "out"],
)
def test_dense_dot_matches_dot_general_and_its_gradients(x_shape, k_shape, n):
  x = jax.random.normal(jax.random.key(0), x_shape)
  kernel = jax.random.normal(jax.random.key(1), k_shape)
  dims = ((tuple(range(len(x_shape) - n, len(x_shape))), tuple(range(n))), ((), ()))
  weights = jax.random.normal(jax.random.key(2), x_shape[:-n] + k_shape[n:])

  def loss(dot):
    return lambda x, k: jnp.sum(jnp.sin(dot(x, k, dims)) * weights)

  np.testing.assert_allclose(dense_dot(x, kernel, dims), lax.dot_general(x, kernel, dims), rtol=1e-5, atol=1e-5)
  ours = jax.jit(jax.grad(loss(dense_dot), argnums=(0, 1)))(x, kernel)
  theirs = jax.jit(jax.grad(loss(lax.dot_general), argnums=(0, 1)))(x, kernel)
  for a, b in zip(ours, theirs):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_other_contractions_are_dot_general_itself():
  a = jax.random.normal(jax.random.key(0), (3, 4, 5))
  b = jax.random.normal(jax.random.key(1), (3, 5, 2))
  dims = (((2,), (1,)), ((0,), (0,)))  # a batched product: not a Dense layer's
  np.testing.assert_array_equal(dense_dot(a, b, dims), lax.dot_general(a, b, dims))
