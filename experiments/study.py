"""What the reproduce_* scripts share: sizing a study's configs to a scale, cached results, report tables."""

from mtm_jax.evaluate.report import markdown_table, read_results  # noqa: F401  (the studies import them from here)
from mtm_jax.evaluate.score import mean_se  # noqa: F401


def apply_scale(c, variant: str, seed: int, scale: dict, pretrained: str):
  """Seed, model size, batch and step counts of a scale; finetune variants start from ``pretrained``."""
  finetune = variant.startswith("finetune_")
  c.seed = seed
  c.model.width, c.model.encoder_layers = scale["width"], scale["layers"]
  c.train.batch_size = scale["batch"]
  c.train.num_steps = scale["finetune_steps"] if finetune else scale["steps"]
  c.train.warmup_steps = min(c.train.warmup_steps, c.train.num_steps // 10)
  c.train.log_every = max(1, min(c.train.log_every, c.train.num_steps // 5))
  c.train.checkpoint_every = c.train.num_steps
  if finetune:
    c.train.init_from = pretrained
  return c
