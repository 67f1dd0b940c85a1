"""Gridworld rollout throughput: the jitted scan-and-vmap rollout against a Python loop over the
MiniGrid environment calling the same jitted model once per step. Same model, same machine.

python -m benchmarks.rollout_throughput [--episodes 1000] [--loop_episodes 20] [--width 64] [--layers 2]
The model is configs/gridworld.py's (untrained weights: the arithmetic is the same).
Last line: ``rollout_throughput jitted_steps_per_s=A python_loop_steps_per_s=B ratio=Rx`` (target >= 50x).
"""

import argparse
import time

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

import mtm_jax.envs.gridworld as gw
from configs import gridworld as gridworld_config
from mtm_jax import experiment
from mtm_jax.eval import gridworld as evaluation
from mtm_jax.masks import get_task
from mtm_jax.model import build_model, dummy_inputs
from mtm_jax.normalization import identity_stats
from mtm_jax.predict import make_predict
from mtm_jax.spec import ACTIONS, CONTINUOUS, DISCRETE, RETURNS, STATES, DatasetSpec, ModalitySpec

SPEC = DatasetSpec(
  (
    ModalitySpec(STATES, DISCRETE, num_classes=gw.NUM_STATES),
    ModalitySpec(ACTIONS, DISCRETE, num_classes=gw.NUM_ACTIONS),
    ModalitySpec(RETURNS, CONTINUOUS, 1),
  )
)


def python_loop(predict, params, episodes: int) -> float:
  """env-steps/s of gymnasium stepping with one jitted model call (batch 1) per step."""
  env = gym.make(gw.ENV_ID)
  T = gw.layout.EPISODE_STEPS
  bc = get_task("bc")
  masks = [jax.tree_util.tree_map(lambda v: v[None], bc(jax.random.key(0), T, SPEC, index=t)[0]) for t in range(T)]
  steps, started = 0, None
  for episode in range(episodes + 1):  # episode 0 warms up (compiles) and is not timed
    if episode == 1:
      started = time.perf_counter()
    obs, _ = env.reset(seed=episode)
    states, actions = np.zeros((1, T), np.int32), np.zeros((1, T), np.int32)
    for t in range(T):
      states[0, t] = obs
      traj = {STATES: states, ACTIONS: actions, RETURNS: np.zeros((1, T, 1), np.float32), "steps_remaining": np.full((1, T), T)}
      logp = predict(params, traj, masks[t])[ACTIONS]
      actions[0, t] = int(np.argmax(np.asarray(logp)[0, t]))
      obs, *_ = env.step(int(actions[0, t]))
      steps += episode > 0
  return steps / (time.perf_counter() - started)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--episodes", type=int, default=1000)
  parser.add_argument("--loop_episodes", type=int, default=20)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--width", type=int, default=0, help="model width; 0 = the study's")
  parser.add_argument("--layers", type=int, default=0, help="encoder layers; 0 = the study's")
  args = parser.parse_args()
  config = gridworld_config.get_config("random")
  config.model.width = args.width or config.model.width
  config.model.encoder_layers = args.layers or config.model.encoder_layers
  model = build_model(experiment.parse(config).model, SPEC, config.window)
  params = {
    "model": model.init(jax.random.key(0), *dummy_inputs(SPEC, config.window, 1, config.model.max_horizon)),
    "norm": identity_stats(SPEC),
  }
  params = jax.tree_util.tree_map(jnp.asarray, params)
  predict = make_predict(config, SPEC)

  rollout = evaluation.make_rollout(predict, SPEC, "bc", args.episodes)
  jax.block_until_ready(rollout(params, jax.random.key(0)))  # compile
  started = time.perf_counter()
  for r in range(args.repeats):
    jax.block_until_ready(rollout(params, jax.random.key(r + 1)))
  jitted = args.repeats * args.episodes * gw.layout.EPISODE_STEPS / (time.perf_counter() - started)

  loop = python_loop(jax.jit(predict), params, args.loop_episodes)
  print(
    f"model: width {config.model.width}, {config.model.encoder_layers} layers; {jax.devices()[0].platform}; "
    f"jitted: {args.episodes} episodes per call; loop: {args.loop_episodes} episodes, batch 1"
  )
  print(f"rollout_throughput jitted_steps_per_s={jitted:.0f} python_loop_steps_per_s={loop:.0f} ratio={jitted / loop:.0f}x")


if __name__ == "__main__":
  main()
