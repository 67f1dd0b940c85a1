"""Each speed lever of the train step against its absence, in paired alternating rounds in one process, so the
machine's drift cancels (results/train_speed measured them this way).

python -m benchmarks.train_step_levers [--batch 256] [--width 512] [--rounds 12] [--steps 3]
Levers: ``dense_dot`` (matmul.py's weight gradient) against ``lax.dot_general``; two capacity tiers against the
loose tier alone. Prints each lever's paired median ratio of samples/s with its interquartile range.
"""

import argparse
import statistics
import time

import jax
import numpy as np
from jax import lax

import mtm_jax.model as model_module
from benchmarks import train_throughput as tt


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--width", type=int, default=512)
  parser.add_argument("--rounds", type=int, default=12)
  parser.add_argument("--steps", type=int, default=3, help="steps per timed round")
  args = parser.parse_args()
  cfg, sampler, pack = tt.reference_setup(args.width, args.batch)
  if pack is None:
    raise SystemExit(f"--batch {args.batch} is too small to pack; use 64 or more")
  ours = model_module.dense_dot
  paths = {}
  # The model reads model.dense_dot when it is traced, which make_step does at once.
  for name, dot, p in (
    ("all levers", ours, pack),
    ("lax.dot_general", lax.dot_general, pack),
    ("loose tier only", ours, (pack[0], max(pack[1]))),
  ):
    model_module.dense_dot = dot
    paths[name] = list(tt.make_step(cfg, sampler, p, args.batch))
  model_module.dense_dot = ours
  rates = {name: [] for name in paths}
  for r in range(args.rounds):
    for name, path in paths.items():
      step, state, batch = path
      start = time.perf_counter()
      for i in range(args.steps):
        state, metrics = step(state, batch, jax.random.fold_in(jax.random.key(2), r * args.steps + i))
      jax.block_until_ready(metrics)
      rates[name].append(args.batch * args.steps / (time.perf_counter() - start))
      path[1] = state
  print(f"batch {args.batch} width {args.width}, tiers {pack[1]}, {args.rounds} rounds of {args.steps} steps")
  for name in paths:
    print(f"{name}: median {statistics.median(rates[name]):.1f} samples/s")
  for lever, without in (("dense_dot", "lax.dot_general"), ("capacity tiers", "loose tier only")):
    ratio = np.asarray(rates["all levers"]) / np.asarray(rates[without])
    q1, q3 = np.percentile(ratio, [25, 75])
    print(f"{lever}: paired median {np.median(ratio):.3f}x (IQR {q1:.3f}-{q3:.3f})")


if __name__ == "__main__":
  main()
