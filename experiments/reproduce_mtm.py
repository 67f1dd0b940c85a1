"""The MTM paper's study on locomotion: one model against specialists, offline RL scores, data efficiency, and
planning with the same weights.

python -m experiments.reproduce_mtm --scale {smoke,small,full} [--envs hopper,halfcheetah,walker2d]
    [--levels medium,medium-replay,medium-expert] [--versatility expert,medium-replay] [--seeds N]
    [--parts versatility,curves,offline_rl,efficiency,planning]
    [--out DIR]

Makes any missing dataset (SAC, then D4RL's levels), trains every model and seed, evaluates, and writes
OUT/report.md with its tables, the paper's claims checked and PNGs, and OUT/configs/ with the config of every
model it reports. Re-running resumes: measurements are read back from OUT/results.json, finished models from
OUT/models, and a model trains only where a measurement that is not cached needs it (so OUT/results.json alone
resumes on a fresh machine). The study itself is studies.mtm (its SCALES say what each scale runs;
configs/locomotion.py at that scale sizes the models).
"""

from absl import flags

from experiments import cli
from studies import mtm

_SCALE = flags.DEFINE_enum("scale", "small", list(mtm.SCALES), "How much to train and evaluate (studies.mtm.SCALES).")
_ENVS = flags.DEFINE_list("envs", None, "Environments (default the scale's).")
_LEVELS = flags.DEFINE_list("levels", None, "Dataset levels (default the scale's).")
_VERSATILITY = flags.DEFINE_list("versatility", None, "Hopper levels of the versatility part (default the scale's).")
_SEEDS = flags.DEFINE_integer("seeds", 0, "Seeds per model; 0 = the scale's.")
_PARTS = flags.DEFINE_list("parts", list(mtm.PARTS), "Which parts to run (studies.mtm.PARTS).")
_OUT = flags.DEFINE_string("out", None, "Output folder (default runs/mtm_SCALE).")


def main():
  study = mtm.MTMStudy(_OUT.value, _SCALE.value, _ENVS.value, _LEVELS.value, _SEEDS.value, _VERSATILITY.value)
  print(f"wrote {study.run(tuple(_PARTS.value))}")


if __name__ == "__main__":
  cli.run(main)
