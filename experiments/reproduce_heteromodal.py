"""Heteromodal MTM (the MTM paper's setting): expert data where only a share f of the training episodes keeps
its actions; MTM on the labelled episodes alone against MTM on all of them, and specialists on the labelled ones.

python -m experiments.reproduce_heteromodal --scale {smoke,small,full} [--envs hopper,halfcheetah,walker2d]
    [--levels expert] [--seeds N] [--out DIR]

Makes any missing dataset, trains every model and seed, evaluates (BC and RCBC rollout scores, held-out
inverse-dynamics error), and writes OUT/report.md with its tables, the paper's claim checked and PNGs.
Re-running resumes (finished models and measurements are read back). The study itself is
studies.heteromodal (its SCALES say what each scale trains).
"""

from experiments import cli
from studies import harness
from studies import heteromodal as heteromodal_study

make_study = harness.locomotion_study(heteromodal_study.HeteromodalStudy, "heteromodal", "the scale's: expert, as in the paper")


def main():
  print(f"wrote {make_study().run()}")


if __name__ == "__main__":
  cli.run(main)
