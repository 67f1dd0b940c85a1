"""Train-step throughput (samples/s, mask sampling included) on the MTM D4RL reference config: the dense
encoder and the packed (visible-tokens-only) encoder side by side, alternating, in one run.

python -m benchmarks.train_throughput [--batch 256] [--steps 10] [--repeats 3] [--dtype float32|bfloat16]
  [--width 512] [--profile DIR]
Reference config: per_modality tokens, MAE encoder-decoder, width 512, 2 encoder + 1 decoder layers,
4 heads, dropout 0.1, T=4, states 17-d, actions 6-d, returns 1-d, per-sample random_autoregressive masks
with the reference's D4RL keep ratios and mode weights, AdamW (lr 1e-4, decay 0.005), batch 256.
--profile DIR: afterwards, three packed steps under XLA's profiler, tabulated op by op (xla_profile.py; the
reference's side is profile_reference_torch.py).
Last line: ``train_throughput samples_per_s=N`` (the packed encoder; what ../shared/anchor/compare.sh reads).
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mtm_jax import masks
from mtm_jax.model import ModelConfig, build_model, dummy_inputs, token_visibility
from mtm_jax.normalization import identity_stats
from mtm_jax.spec import CONTINUOUS, DatasetSpec, ModalitySpec
from mtm_jax.train import TrainState, encoder_packing, make_train_step

SPEC = DatasetSpec(
  (ModalitySpec("states", CONTINUOUS, 17), ModalitySpec("actions", CONTINUOUS, 6), ModalitySpec("returns", CONTINUOUS, 1))
)
T = 4
KEEP_RATIOS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)  # the reference's D4RL config
MODE_WEIGHTS = (0.2, 0.1, 0.7)


def model_flops_per_sample(width, enc_layers, dec_layers, encoder_tokens, tokens=3 * T, dims=24):
  """Forward+backward matmul FLOPs (6 per multiply-add of a weight, 3 x forward for attention's
  activation-activation products): blocks, embeddings, decoder projection and heads."""

  def block(rows):  # QKV + out (4 W^2) and MLP (8 W^2) weights; scores and mixing over `tokens` keys
    return 6 * rows * 12 * width * width + 3 * 2 * 2 * rows * tokens * width

  embed = 6 * 2 * dims * width  # encoder and decoder value embeddings (per step, summed over modalities)
  heads = 6 * tokens * (width * width + width * dims / 3)
  return enc_layers * block(encoder_tokens) + dec_layers * block(tokens) + 6 * tokens * width * width + embed * T + heads


def make_step(cfg, sampler, pack, batch_size):
  model = build_model(cfg, SPEC, T)
  params = {"model": model.init(jax.random.key(0), *dummy_inputs(SPEC, T)), "norm": identity_stats(SPEC)}
  opt = optax.adamw(1e-4, weight_decay=0.005)
  step = jax.jit(make_train_step(model, SPEC, sampler, opt, "all", pack), donate_argnums=(0,))
  key = jax.random.key(1)
  batch = {
    "traj": {m.name: jax.random.normal(key, (batch_size, T, m.dim)) for m in SPEC},
    "present": {m.name: jnp.ones((batch_size, T), bool) for m in SPEC},
  }
  state, metrics = step(TrainState.create(params, opt), batch, key)  # compile
  jax.block_until_ready(metrics)
  return step, state, batch


def reference_setup(width: int, batch: int, dtype: str = "float32"):
  """(model config, mask sampler, encoder packing) of the reference recipe at a width and batch."""
  cfg = ModelConfig(
    token_layout="per_modality", width=width, num_heads=4, encoder_layers=2, decoder_layers=1, dropout=0.1, dtype=dtype
  )
  sampler = masks.make_sampler(
    SPEC,
    T,
    ["random_autoregressive"],
    return_policy="all",
    task_params={"random_autoregressive": {"keep_ratios": KEEP_RATIOS, "mode_weights": MODE_WEIGHTS}},
  )
  return cfg, sampler, encoder_packing(build_model(cfg, SPEC, T), SPEC, sampler, batch, 1, jax.random.key(7))


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--repeats", type=int, default=3, help="alternating timed rounds per path; medians reported")
  parser.add_argument("--dtype", default="float32", help="matmul compute dtype (bfloat16 where the device has it)")
  parser.add_argument("--width", type=int, default=512, help="model width (the studies train at 128)")
  parser.add_argument("--profile", default="", help="a folder: also profile the packed step op by op there")
  args = parser.parse_args()
  cfg, sampler, pack = reference_setup(args.width, args.batch, args.dtype)
  paths = {"dense": make_step(cfg, sampler, None, args.batch), "packed": make_step(cfg, sampler, pack, args.batch)}
  rates = {name: [] for name in paths}
  states = {name: state for name, (_, state, _) in paths.items()}
  overflows = 0
  for r in range(args.repeats):
    for name, (step, _, batch) in paths.items():
      state = states[name]
      start = time.perf_counter()
      for i in range(args.steps):
        state, metrics = step(state, batch, jax.random.fold_in(jax.random.key(2), r * args.steps + i))
      jax.block_until_ready(metrics)
      rates[name].append(args.batch * args.steps / (time.perf_counter() - start))
      states[name] = state
      if name == "packed":
        overflows = int(metrics["encoder_overflows"])

  tokens = 3 * T
  vis, _ = masks.sample_batch(sampler, jax.random.key(3), args.batch * 400)  # 400 batches' worth of masks
  per_sample = np.asarray(token_visibility(SPEC, cfg.token_layout, vis)).sum(1)
  fraction = per_sample.mean() / tokens
  capacity = max(pack[1])  # the loosest tier (the tight one takes most batches)
  overflow_rate = np.mean(per_sample.reshape(400, args.batch).sum(1) > capacity)
  print(
    f"device={jax.devices()[0].device_kind} batch={args.batch} dtype={args.dtype} visible_fraction={fraction:.3f} "
    f"capacity={capacity} ({capacity / (args.batch * tokens):.3f} of the tokens) "
    f"overflowing_batches={overflow_rate:.4f} of 400 drawn, {overflows} of {args.repeats * args.steps + 1} trained"
  )
  dense_rate, packed_rate = statistics.median(rates["dense"]), statistics.median(rates["packed"])
  for name, rate, enc_tokens in (("dense", dense_rate, tokens), ("packed", packed_rate, capacity / args.batch)):
    flops = model_flops_per_sample(args.width, 2, 1, enc_tokens)
    print(
      f"{name}: {rate:.1f} samples/s (runs {[round(x) for x in rates[name]]}); "
      f"{flops / 1e6:.0f} MFLOP/sample computed, {rate * flops / 1e9:.1f} GFLOP/s"
    )
  print(f"packed/dense {packed_rate / dense_rate:.2f}x")
  if args.profile:
    step = paths["packed"][0]
    # Imported here: ../shared/anchor/compare.sh runs this file by path, where the benchmarks package is not
    # importable; --profile needs python -m benchmarks.train_throughput.
    from benchmarks import xla_profile

    text, states["packed"] = xla_profile.profile(step, states["packed"], paths["packed"][2], jax.random.key(5), 3, args.profile)
    print(text)
  print(f"train_throughput samples_per_s={packed_rate:.1f}")


if __name__ == "__main__":
  main()
