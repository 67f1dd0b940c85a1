"""What the reproduce_* scripts share: sizing a study's configs to a scale, cached results, report tables, and
the flags of the locomotion studies."""

import os

from absl import flags

from configs import locomotion
from mtm_jax.envs.score import mean_se  # noqa: F401
from studies.report import markdown_table, read_results  # noqa: F401  (the studies import them from here)


def locomotion_study(cls, name: str, levels_help: str = "the scale's"):
  """Defines the flags of a locomotion study's script (--scale --envs --levels --seeds --out) for ``cls`` (a
  ``mtm_study.Study``) and returns a function that makes the study from them, its folder runs/NAME_SCALE
  unless --out says otherwise."""
  scale = flags.DEFINE_enum("scale", "small", list(cls.scales), "How much to train and evaluate (the study's SCALES).")
  envs = flags.DEFINE_list("envs", None, "Environments (default the scale's).")
  levels = flags.DEFINE_list("levels", None, f"Dataset levels (default {levels_help}).")
  seeds = flags.DEFINE_integer("seeds", 0, "Seeds per model; 0 = the scale's.")
  out = flags.DEFINE_string("out", None, f"Output folder (default runs/{name}_SCALE).")

  def make():
    return cls(
      out.value or os.path.join("runs", f"{name}_{scale.value}"),
      scale.value,
      locomotion.get_config,
      envs=envs.value,
      levels=levels.value,
      seeds=seeds.value,
    )

  return make


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
