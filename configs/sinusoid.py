"""MTM's toy sinusoids, random-autoregressive masking, per-modality MAE transformer.

Variants (configs/sinusoid.py:scale=S): full (default), smoke (a few steps, for tests).
Run:   python -m experiments.train --config configs/sinusoid.py --workdir runs/sinusoid
Smoke: python -m experiments.train --config configs/sinusoid.py:scale=smoke --workdir /tmp/sinusoid
Expect: validation reconstruct loss well below 0.1 (normalised MSE) after the default 2,000 steps,
about two minutes on a 2-core CPU.
"""

import ml_collections

from configs import base


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  v = base.variants(arg, scale=("full", "smoke"))
  c = base.get_config()  # its data, masks and training defaults are this recipe's
  c.model.width = 64
  c.eval.every = 1000  # held-out task losses during training, into eval_metrics.jsonl
  c.masks.task_params.random_autoregressive = ml_collections.ConfigDict()
  c.masks.task_params.random_autoregressive.keep_ratios = (0.7, 0.8, 0.85, 0.9, 0.95, 1.0)
  c.masks.task_params.random_autoregressive.mode_weights = (0.2, 0.1, 0.7)  # states, returns, actions
  c.masks.task_params.random_autoregressive.ratio_per_modality = False  # True: a keep ratio per modality (reference)

  if v["scale"] == "smoke":
    c.data.num_episodes = 64
    c.window = 8
    c.model.width, c.model.num_heads, c.model.encoder_layers = 32, 2, 1
    c.train.batch_size, c.train.num_steps, c.train.warmup_steps = 16, 20, 5
    c.train.log_every, c.train.checkpoint_every = 5, 10
    c.eval.num_windows = 32
    c.eval.every = 0  # tests train hundreds of these: each asks for its own evaluations
  return c
