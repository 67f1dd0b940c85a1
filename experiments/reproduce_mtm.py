"""The MTM paper's study on locomotion: one model against specialists, offline RL scores, data efficiency, and
planning with the same weights.

python -m experiments.reproduce_mtm --scale {smoke,small,full} [--envs hopper,halfcheetah,walker2d]
    [--levels medium,medium-replay,medium-expert] [--seeds N] [--parts versatility,offline_rl,efficiency,planning]
    [--out DIR]

Makes any missing dataset (SAC, then D4RL's levels), trains every model and seed, evaluates, and writes
OUT/report.md with its tables, the paper's claims checked and PNGs. Re-running resumes: finished models
are read back from OUT/models, measurements from OUT/results.json. The study itself is
studies.mtm (its SCALES say what each scale trains).
"""

from absl import flags

from experiments import cli
from studies import harness
from studies import mtm as mtm_study

make_study = harness.locomotion_study(mtm_study.Study, "mtm", "the scale's")
_PARTS = flags.DEFINE_list("parts", list(mtm_study.PARTS), "Which parts to run (mtm_study.PARTS).")


def main():
  print(f"wrote {make_study().run(tuple(_PARTS.value))}")


if __name__ == "__main__":
  cli.run(main)
