"""AdamW with linear warmup and cosine decay; no weight decay on biases, norms, embeddings, tokens."""

from __future__ import annotations

import jax
import optax


def decay_mask(params):
  """True only for weight matrices (Dense kernels); False for everything else."""
  return jax.tree_util.tree_map_with_path(lambda path, _: getattr(path[-1], "key", None) == "kernel", params)


def schedule(train_config) -> optax.Schedule:
  return optax.warmup_cosine_decay_schedule(
    init_value=0.0,
    peak_value=train_config.learning_rate,
    warmup_steps=max(int(train_config.warmup_steps), 1),
    decay_steps=max(int(train_config.num_steps), int(train_config.warmup_steps) + 1),
    end_value=train_config.learning_rate * train_config.final_lr_fraction,
  )


def make(train_config) -> optax.GradientTransformation:
  parts = []
  if train_config.grad_clip > 0:
    parts.append(optax.clip_by_global_norm(train_config.grad_clip))
  parts.append(optax.adamw(schedule(train_config), weight_decay=train_config.weight_decay, mask=decay_mask))
  return optax.chain(*parts)
