"""SAC throughput: gradient updates/s of the fused learner, and environment steps/s of the whole training loop.

python -m benchmarks.sac_throughput [--env Hopper-v5] [--steps 6000] [--updates 2000]
Updates: ``SAC.learn`` (one jitted scan of 100 updates, batch 256, 256x256 networks) on a filled buffer, with
the default settings and the first ones (``SACConfig.first``: an actor step on every update), alternating over
three rounds, medians.
Loop: ``sac_train.train`` after its uniform-action warm-up, one update per environment step, with 1 and 4
environments stepped together (1 and 4 updates per call). Last line: ``sac_throughput updates_per_s=U
env_steps_per_s=S (1 env) S4 (4 envs)``.
"""

import argparse
import tempfile
import time

import jax
import numpy as np

from mtm_jax.agents import replay as replay_lib
from mtm_jax.agents.sac import SAC, SACConfig
from mtm_jax.agents.sac_train import RunConfig, train


def updates_per_s(config, obs_dim, action_dim, total):
  agent = SAC(config, obs_dim, action_dim)
  state = agent.init(jax.random.key(0))
  rng = np.random.default_rng(0)
  rows = 10_000
  replay = replay_lib.add(
    replay_lib.init(rows, obs_dim, action_dim),
    rng.normal(size=(rows, obs_dim)),
    rng.uniform(-1, 1, (rows, action_dim)),
    rng.normal(size=rows),
    rng.normal(size=(rows, obs_dim)),
    np.zeros(rows, bool),
    np.zeros(rows, bool),
  )
  learn = jax.jit(agent.learn, static_argnums=3)
  state, _ = jax.block_until_ready(learn(state, replay, jax.random.key(1), 100))  # compile
  start = time.perf_counter()
  for i in range(total // 100):
    state, metrics = learn(state, replay, jax.random.key(i + 2), 100)
  jax.block_until_ready(metrics)
  return (total // 100) * 100 / (time.perf_counter() - start)


def loop_steps_per_s(env_id, steps, num_envs):
  def run(total):
    config = RunConfig(
      env_id, total_steps=total, num_envs=num_envs, start_steps=1_000, eval_every=total, checkpoint_every=total, eval_episodes=1
    )
    with tempfile.TemporaryDirectory() as workdir:
      start = time.perf_counter()
      train(config, workdir, progress=False)
      return time.perf_counter() - start

  run(1_200)  # compile both collection variants
  short, long = run(1_200), run(1_200 + steps)  # the difference is `steps` learning steps
  return steps / (long - short)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--env", default="Hopper-v5")
  parser.add_argument("--steps", type=int, default=6_000)
  parser.add_argument("--updates", type=int, default=2_000)
  args = parser.parse_args()
  import gymnasium as gym

  import mtm_jax.envs  # noqa: F401  (quiets MuJoCo's notice about gymnasium's locomotion models)

  env = gym.make(args.env)
  obs_dim, action_dim = env.observation_space.shape[0], env.action_space.shape[0]
  print(f"{args.env}: observations {obs_dim}-d, actions {action_dim}-d, devices {jax.devices()}")
  configs = {"default": SACConfig(), "first": SACConfig.first()}
  rounds = {name: [] for name in configs}
  for _ in range(3):
    for name, config in configs.items():
      rounds[name].append(updates_per_s(config, obs_dim, action_dim, args.updates))
  for name, rates in rounds.items():
    print(f"learner, {name} settings: {np.median(rates):.0f} updates/s (rounds: {', '.join(f'{r:.0f}' for r in rates)})")
  updates = float(np.median(rounds["default"]))
  loop = {n: loop_steps_per_s(args.env, args.steps, n) for n in (1, 4)}
  for n, rate in loop.items():
    print(f"training loop, {n} env(s): {rate:.0f} env steps/s (one update per env step)")
  print(f"sac_throughput updates_per_s={updates:.0f} env_steps_per_s={loop[1]:.0f} (1 env) {loop[4]:.0f} (4 envs)")


if __name__ == "__main__":
  main()
