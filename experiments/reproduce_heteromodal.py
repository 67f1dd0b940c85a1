"""Heteromodal MTM (the MTM paper's setting): expert data where only a share f of the training episodes keeps
its actions; MTM on the labelled episodes alone against MTM on all of them, and specialists on the labelled ones.

python -m experiments.reproduce_heteromodal --scale {smoke,small,full} [--envs hopper,halfcheetah,walker2d]
    [--levels expert] [--seeds N] [--mtm_budget N] [--out DIR]

Makes any missing dataset, trains every model and seed, evaluates (BC, RCBC and the MTMs' rcbc_imagine rollout
scores, held-out inverse-dynamics error and the MTMs' error on rcbc_imagine's imagined states), and writes
OUT/report.md with its tables, the paper's claim checked and PNGs, and OUT/configs/ with the config of every
model. Re-running resumes (finished models and measurements are read back). The study itself is studies.heteromodal
(its SCALES say what each scale runs; configs/locomotion.py at that scale sizes the models).
"""

from absl import flags

from experiments import cli
from studies import heteromodal

_SCALE = flags.DEFINE_enum("scale", "small", list(heteromodal.SCALES), "How much to train (studies.heteromodal.SCALES).")
_ENVS = flags.DEFINE_list("envs", None, "Environments (default the scale's).")
_LEVELS = flags.DEFINE_list("levels", None, "Dataset levels (default the scale's: expert, as in the paper).")
_SEEDS = flags.DEFINE_integer("seeds", 0, "Seeds per model; 0 = the scale's.")
_BUDGET = flags.DEFINE_integer(
  "mtm_budget",
  0,
  "The MTMs' and MLPs' training steps as a multiple of the scale's; 0 = the scale's. Another budget "
  "in the same --out adds its models beside the cached ones (its report is of the budget asked).",
  lower_bound=0,
)
_OUT = flags.DEFINE_string("out", None, "Output folder (default runs/heteromodal_SCALE).")


def main():
  overrides = {"mtm_budget": _BUDGET.value} if _BUDGET.value else None
  study = heteromodal.HeteromodalStudy(_OUT.value, _SCALE.value, _ENVS.value, _LEVELS.value, _SEEDS.value, overrides=overrides)
  print(f"wrote {study.run()}")


if __name__ == "__main__":
  cli.run(main)
