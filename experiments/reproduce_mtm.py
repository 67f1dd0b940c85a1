"""The MTM paper's study on locomotion: one model against specialists, offline RL scores, data efficiency, and
planning with the same weights.

python experiments/reproduce_mtm.py --scale {smoke,small,full} [--envs hopper,halfcheetah,walker2d]
    [--levels medium,medium-replay,medium-expert] [--seeds N] [--parts versatility,offline_rl,efficiency,planning]
    [--out DIR]

Makes any missing dataset (SAC, then D4RL's levels), trains every model and seed, evaluates, and writes
OUT/report.md with its tables, the paper's claims checked and PNGs. Re-running resumes: finished models
are read back from OUT/models, measurements from OUT/results.json. The study itself is
mtm_jax.evaluate.mtm_study (its SCALES say what each scale trains).
"""

import os
import sys

import cli
from absl import flags

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs"))
import locomotion  # noqa: E402

from mtm_jax.evaluate import mtm_study  # noqa: E402

_SCALE = flags.DEFINE_enum("scale", "small", list(mtm_study.SCALES), "How much to train and roll out.")
_ENVS = flags.DEFINE_list("envs", None, "Offline-RL environments (default the scale's).")
_LEVELS = flags.DEFINE_list("levels", None, "Offline-RL dataset levels (default the scale's).")
_SEEDS = flags.DEFINE_integer("seeds", 0, "Seeds per model in every part; 0 = the scale's.")
_PARTS = flags.DEFINE_list("parts", list(mtm_study.PARTS), "Which parts to run (mtm_study.PARTS).")
_OUT = flags.DEFINE_string("out", None, "Output folder (default runs/mtm_SCALE).")


def main():
  out = _OUT.value or os.path.join("runs", f"mtm_{_SCALE.value}")
  study = mtm_study.Study(out, _SCALE.value, locomotion.get_config, envs=_ENVS.value, levels=_LEVELS.value,
                          seeds=_SEEDS.value)
  print(f"wrote {study.run(tuple(_PARTS.value))}")


if __name__ == "__main__":
  cli.run(main)
