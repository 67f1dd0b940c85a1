"""Train-step throughput (samples/s, mask sampling included) on the MTM D4RL reference config.

python benchmarks/train_throughput.py [--batch 256] [--steps 10] [--encoder_decoder 1]
Reference config: per_modality tokens, MAE encoder-decoder, width 512, 2 encoder + 1 decoder
layers, 4 heads, dropout 0.1, T=4, states 17-d, actions 6-d, returns 1-d, per-sample
random_autoregressive masks, batch 256. Last line: ``train_throughput samples_per_s=N``.
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mtm_jax import masks
from mtm_jax.model import ModelConfig, build_model, dummy_inputs
from mtm_jax.normalization import identity_stats
from mtm_jax.spec import CONTINUOUS, DatasetSpec, ModalitySpec
from mtm_jax.train import TrainState, make_train_step

SPEC = DatasetSpec((
    ModalitySpec("states", CONTINUOUS, 17), ModalitySpec("actions", CONTINUOUS, 6), ModalitySpec("returns", CONTINUOUS, 1)
))
T = 4


def model_flops_per_sample(width, enc_layers, dec_layers, visible_fraction, tokens=3 * T):
  """Forward+backward matmul FLOPs (6 x params-touched per token) of blocks, embeddings and heads."""
  block = 12 * width * width + 2 * 2 * tokens * width  # weights + attention scores/values per token
  enc = enc_layers * block * tokens * visible_fraction
  dec = dec_layers * block * tokens + width * width * tokens  # decoder blocks + decoder_embed
  heads = tokens * (width * width + width * 8)
  return 6 * (enc + dec + heads)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--encoder_decoder", type=int, default=1)
  args = parser.parse_args()
  cfg = ModelConfig(token_layout="per_modality", width=512, num_heads=4, encoder_layers=2,
                    decoder_layers=1 if args.encoder_decoder else 0, dropout=0.1)
  model = build_model(cfg, SPEC, T)
  params = {"model": model.init(jax.random.key(0), *dummy_inputs(SPEC, T)), "norm": identity_stats(SPEC)}
  opt = optax.adamw(1e-4, weight_decay=0.01)
  state = TrainState.create(params, opt)
  sampler = masks.make_sampler(SPEC, T, ["random_autoregressive"], return_policy="all")
  step = jax.jit(make_train_step(model, SPEC, sampler, opt, "all"), donate_argnums=(0,))
  key = jax.random.key(1)
  batch = {
      "traj": {m.name: jax.random.normal(key, (args.batch, T, m.dim)) for m in SPEC},
      "present": {m.name: jnp.ones((args.batch, T), bool) for m in SPEC},
  }
  state, metrics = step(state, batch, key)
  jax.block_until_ready(metrics)
  start = time.perf_counter()
  for i in range(args.steps):
    state, metrics = step(state, batch, jax.random.fold_in(key, i))
  jax.block_until_ready(metrics)
  elapsed = time.perf_counter() - start
  rate = args.batch * args.steps / elapsed
  vis, _ = masks.sample_batch(sampler, key, 4096)
  fraction = float(np.mean([np.asarray(v).mean() for v in vis.values()]))
  flops = model_flops_per_sample(512, 2, 1 if args.encoder_decoder else 0, fraction if args.encoder_decoder else 1.0)
  print(f"device={jax.devices()[0].device_kind} batch={args.batch} visible_fraction={fraction:.3f} "
        f"model_flops_per_sample={flops / 1e6:.0f}M achieved={rate * flops / 1e9:.1f} GFLOP/s")
  print(f"train_throughput samples_per_s={rate:.1f}")


if __name__ == "__main__":
  main()
