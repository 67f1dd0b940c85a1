"""Test setup: 2 fake CPU devices, strict rank promotion, a persistent compilation cache."""

import os
import sys
import warnings

# The tests' models are tiny, so XLA's compile time is most of their cost: its cheapest backend optimisation
# cuts that by a third, and XLA's older elemental emitter in place of its fusion emitters halves what is left
# (a smoke train step 6.5 -> 2.7 s to compile; subprocesses inherit these flags).
FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true --xla_cpu_use_fusion_emitters=false"
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILE} --xla_force_host_platform_device_count=2"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".jax_cache"))
# Every compile goes to the persistent cache, in this process and the ones it starts: many tests start a
# process that compiles the same small programs, each under JAX's default 1 s threshold when compiled fast.
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mtm_jax.spec import CONTINUOUS, DISCRETE, DatasetSpec, ModalitySpec  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train_command(workdir, *overrides: str, config: str = "sinusoid.py:smoke") -> list[str]:
  """python -m experiments.train on configs/CONFIG into ``workdir``, with ``--config.KEY=VALUE`` overrides."""
  return [
    sys.executable,
    "-m",
    "experiments.train",
    "--config",
    os.path.join(REPO, "configs", config),
    "--workdir",
    str(workdir),
    *overrides,
  ]


def process_env(devices: int = 1, fast_compile: bool = True) -> dict:
  """The environment of a process a test starts: ``devices`` CPU devices (one, as a user has) and fast
  compiles, or XLA's full optimisation for a process whose run time outweighs its compiles."""
  flags = f"{FAST_COMPILE if fast_compile else ''} --xla_force_host_platform_device_count={devices}"
  # The repository root on the path, so python -m experiments.SCRIPT runs from any folder (as from the root).
  path = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)
  return {**os.environ, "XLA_FLAGS": flags, "PYTHONPATH": path}


@pytest.fixture
def spec():
  """Continuous states, discrete actions, returns, and an extra modality."""
  return DatasetSpec(
    (
      ModalitySpec("states", CONTINUOUS, 3),
      ModalitySpec("actions", DISCRETE, num_classes=4),
      ModalitySpec("returns", CONTINUOUS, 1),
      ModalitySpec("rewards", CONTINUOUS, 1),
    )
  )


@pytest.fixture
def sar_spec():
  return DatasetSpec(
    (
      ModalitySpec("states", CONTINUOUS, 2),
      ModalitySpec("actions", CONTINUOUS, 2),
      ModalitySpec("returns", CONTINUOUS, 1),
    )
  )


@pytest.fixture(scope="session")
def minari_root(tmp_path_factory):
  """A small Minari dataset written by DataCollector around Pendulum with a random policy."""
  import gymnasium as gym
  import minari

  root = tmp_path_factory.mktemp("minari")
  os.environ["MINARI_DATASETS_PATH"] = str(root)
  env = minari.DataCollector(gym.make("Pendulum-v1", max_episode_steps=30))
  env.action_space.seed(0)
  for episode in range(12):
    env.reset(seed=episode)
    done = False
    while not done:
      _, _, terminated, truncated, _ = env.step(env.action_space.sample())
      done = terminated or truncated
  env.create_dataset(
    dataset_id="mtmtest/pendulum-random-v0",
    algorithm_name="random",
    author="mtm_jax tests",
    author_email="the mtm_jax issue tracker",
    code_permalink="mtm_jax@tests:tests/conftest.py",
    description="Pendulum-v1, a random policy, 12 episodes of 30 steps",
    eval_env="Pendulum-v1",
  )
  env.close()
  return str(root)


def smoke_config(**overrides):
  """The sinusoid smoke config with dotted-key overrides."""
  from configs import sinusoid

  config = sinusoid.get_config("smoke")
  for key, value in overrides.items():
    node = config
    *parents, leaf = key.split(".")
    for p in parents:
      node = node[p]
    node[leaf] = value
  return config


def pendulum_config(**overrides):
  base = {
    "data.source": "minari",
    "data.dataset_id": "mtmtest/pendulum-random-v0",
    "data.num_validation": 2,
    "masks.return_policy": "first",
    "model.max_horizon": 30,
    "window": 5,
  }
  return smoke_config(**{**base, **overrides})


def write_pendulum(dataset_id, episodes=4, spoil=None):
  """A small Pendulum dataset; ``spoil(i, observations, actions)`` may edit episode i's arrays in place, or
  return replacements (another length or shape)."""
  import gymnasium as gym
  import minari
  from minari.data_collector import EpisodeBuffer

  env, rng, buffers = gym.make("Pendulum-v1"), np.random.default_rng(0), []
  for i in range(episodes):
    obs = rng.uniform(-1, 1, (11, 3))
    actions = rng.uniform(-2, 2, (10, 1)).astype(np.float32)
    if spoil:
      obs, actions = spoil(i, obs, actions) or (obs, actions)
    n = len(actions)
    buffers.append(
      EpisodeBuffer(
        id=i,
        observations=obs,
        actions=actions,
        rewards=[-1.0] * n,
        terminations=[False] * n,
        truncations=[False] * (n - 1) + [True] * min(n, 1),
      )
    )
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    minari.create_dataset_from_buffers(
      dataset_id, buffers, env=env, algorithm_name="test", author="mtm_jax", code_permalink="tests", description="bad data"
    )
