"""MTM representations for offline TD3: one MTM pretrained per dataset, then TD3 learning curves on raw states,
the MTM's state representation (frozen, fine-tuned) and its state-action representation for the critic.

python -m experiments.reproduce_representation --scale {smoke,small,full} [--envs hopper,halfcheetah,walker2d]
    [--levels full-replay,medium-replay] [--seeds N] [--out DIR]

Makes any missing dataset, pretrains, trains every TD3 variant and seed, and writes OUT/report.md with the
final scores, the updates each variant needs to reach a fixed score, the paper's claim checked, and the
learning curves as PNGs. Re-running resumes (a TD3 run from its last evaluation). The study itself is
studies.representation (its SCALES say what each scale trains).
"""

from experiments import cli
from studies import harness
from studies import representation as representation_study

make_study = harness.locomotion_study(
  representation_study.RepresentationStudy, "representation", "the scale's; full-replay runs TD3, medium-replay TD3+BC"
)


def main():
  print(f"wrote {make_study().run()}")


if __name__ == "__main__":
  cli.run(main)
