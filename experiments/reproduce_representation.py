"""MTM representations for offline TD3: an MTM pretrained per dataset and seed, then TD3 learning curves on raw
states, the MTM's state representation (frozen, fine-tuned) and its state-action representation for the critic.

python -m experiments.reproduce_representation --scale {smoke,small,full} [--envs hopper,halfcheetah,walker2d]
    [--levels full-replay,medium-replay] [--seeds N] [--out DIR]

Makes any missing dataset, pretrains, trains every TD3 variant and seed, and writes OUT/report.md with the
final scores, the updates each variant needs to reach a fixed score, the paper's claim checked, and the
learning curves as PNGs, and OUT/configs/ with the config of every MTM and TD3 run. Re-running resumes (a TD3
run from its last evaluation). The study itself is studies.representation
(its SCALES say what each scale runs; configs/locomotion.py at that scale sizes the models).
"""

from absl import flags

from experiments import cli
from studies import representation

_SCALE = flags.DEFINE_enum("scale", "small", list(representation.SCALES), "How much to train (studies.representation.SCALES).")
_ENVS = flags.DEFINE_list("envs", None, "Environments (default the scale's).")
_LEVELS = flags.DEFINE_list("levels", None, "Dataset levels (default the scale's; full-replay runs TD3, medium-replay TD3+BC).")
_SEEDS = flags.DEFINE_integer("seeds", 0, "Seeds per model; 0 = the scale's.")
_OUT = flags.DEFINE_string("out", None, "Output folder (default runs/representation_SCALE).")


def main():
  study = representation.RepresentationStudy(_OUT.value, _SCALE.value, _ENVS.value, _LEVELS.value, _SEEDS.value)
  print(f"wrote {study.run()}")


if __name__ == "__main__":
  cli.run(main)
