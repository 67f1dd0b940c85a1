"""Train a masked trajectory model.

python experiments/train.py --config configs/sinusoid.py --workdir runs/sinusoid [--config.train.num_steps=100]
Re-running with the same --workdir resumes from its newest checkpoint.
"""

import cli
from absl import flags
from ml_collections import config_flags

from mtm_jax.train import train_and_evaluate

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file (configs/NAME.py[:variant]).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics.jsonl and config.json.")
flags.mark_flags_as_required(["config", "workdir"])


def main():
  train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  cli.run(main)
