"""Rollout evaluator throughput with a masked model in the loop: E environments in lock-step with one model
call per step for all of them, against the same jitted model called once per environment per step.

python -m benchmarks.evaluator_throughput [--env HalfCheetah-v5] [--envs 100] [--steps 100] [--width 128]
The model is the locomotion `small` architecture (per-modality tokens, MAE 2 + 1, T=4) with random weights,
task rcbc; HalfCheetah never terminates, so every environment runs every step. Last line:
``evaluator_throughput batched_env_steps_per_s=A per_env_env_steps_per_s=B ratio=Rx``.
"""

import argparse
import time

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

import mtm_jax.envs  # noqa: F401  (quiets MuJoCo's notice about gymnasium's locomotion models)
from mtm_jax.envs import rollout
from mtm_jax.model import ModelConfig, build_model, dummy_inputs
from mtm_jax.normalization import identity_stats
from mtm_jax.predict import apply_normalized
from mtm_jax.spec import CONTINUOUS, DatasetSpec, ModalitySpec

T = 4


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--env", default="HalfCheetah-v5")
  parser.add_argument("--envs", type=int, default=100)
  parser.add_argument("--steps", type=int, default=100)
  parser.add_argument("--width", type=int, default=128)
  args = parser.parse_args()
  envs = [gym.make(args.env) for _ in range(args.envs)]
  ds, da = envs[0].observation_space.shape[0], envs[0].action_space.shape[0]
  spec = DatasetSpec(
    (ModalitySpec("states", CONTINUOUS, ds), ModalitySpec("actions", CONTINUOUS, da), ModalitySpec("returns", CONTINUOUS, 1))
  )
  model = build_model(ModelConfig(width=args.width, num_heads=4, encoder_layers=2, decoder_layers=1), spec, T)
  traj, visible = dummy_inputs(spec, T, 1, 0)
  params = {
    "model": model.init(jax.random.key(0), traj, visible),
    "norm": jax.tree_util.tree_map(jnp.asarray, identity_stats(spec)),
  }

  def predict(params, traj, mask):
    return apply_normalized(model, params, {k: v for k, v in traj.items() if k in spec}, mask)

  act = rollout.make_act(predict, T, "rcbc", "all")
  batched = rollout.make_policy(act, params, T, task="rcbc", targets=np.ones(args.envs), return_kind="average")
  single = rollout.make_policy(act, params, T, task="rcbc", targets=np.ones(1), return_kind="average")

  def per_env(history, t):  # the same model, one call per environment
    rows = []
    for i in range(args.envs):
      view = rollout.Episodes(
        history.observations[i : i + 1],
        history.actions[i : i + 1],
        history.rewards[i : i + 1],
        history.lengths[i : i + 1],
        history.terminated[i : i + 1],
        history.infos[i : i + 1],
      )
      rows.append(single(view, t))
    return np.concatenate(rows)

  rates = {}
  for name, policy in (("batched", batched), ("per_env", per_env)):
    rollout.run(envs, policy, max_steps=2, seeds=range(args.envs))  # compile
    start = time.perf_counter()
    rollout.run(envs, policy, max_steps=args.steps, seeds=range(args.envs))
    rates[name] = args.envs * args.steps / (time.perf_counter() - start)
    print(f"{name}: {rates[name]:.0f} env steps/s ({args.envs} envs x {args.steps} steps)")
  print(
    f"evaluator_throughput batched_env_steps_per_s={rates['batched']:.0f} "
    f"per_env_env_steps_per_s={rates['per_env']:.0f} ratio={rates['batched'] / rates['per_env']:.1f}x"
  )


if __name__ == "__main__":
  main()
