"""Test setup: 2 fake CPU devices, strict rank promotion, a persistent compilation cache."""

import os

os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".jax_cache"))

import jax  # noqa: E402
import pytest  # noqa: E402

from mtm_jax.spec import CONTINUOUS, DISCRETE, DatasetSpec, ModalitySpec  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def spec():
  """Continuous states, discrete actions, returns, and an extra modality."""
  return DatasetSpec((
      ModalitySpec("states", CONTINUOUS, 3),
      ModalitySpec("actions", DISCRETE, num_classes=4),
      ModalitySpec("returns", CONTINUOUS, 1),
      ModalitySpec("rewards", CONTINUOUS, 1),
  ))


@pytest.fixture
def sar_spec():
  return DatasetSpec((
      ModalitySpec("states", CONTINUOUS, 2),
      ModalitySpec("actions", CONTINUOUS, 2),
      ModalitySpec("returns", CONTINUOUS, 1),
  ))
