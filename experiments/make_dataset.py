"""Generate a study's dataset and write it as a Minari dataset (under MINARI_DATASETS_PATH or ~/.minari).

python -m experiments.make_dataset gridworld [--num_episodes=2000] [--beta=1.0] [--seed=0]
python -m experiments.make_dataset pointmaze [--num_episodes=1000] [--noise=0.5] [--waypoints=cell|d4rl] [--seed=0]
python -m experiments.make_dataset locomotion --env=hopper [--scale=small] [--seed=0] [--out=DIR]
  (SAC, then the D4RL levels as mtm_jax/<env>/<level>-v0 at full scale, mtm_jax/<env>-<scale>/<level>-v0 below it;
  the SAC run resumes from runs/sac/<protocol>/<scale>/<env>-seed<seed>; the summary, README and curves go to
  --out, default runs/locomotion_data/<scale>)
"""

import json
import os

from absl import flags

from experiments import cli
from mtm_jax.datagen.d4rl_protocol import SCALES as LOCOMOTION_SCALES
from studies import report

_NUM_EPISODES = flags.DEFINE_integer("num_episodes", 0, "Trajectories to generate; 0 = the study's (2,000 / 1,000).")
_SEED = flags.DEFINE_integer("seed", 0, "Generator seed (recorded in the dataset's metadata).")
_BETA = flags.DEFINE_float("beta", 1.0, "gridworld: rationality of the Boltzmann agent (recorded in the metadata).")
_NOISE = flags.DEFINE_float("noise", 0.5, "pointmaze: std of the Gaussian action noise of the expert.")
_WAYPOINTS = flags.DEFINE_enum(
  "waypoints",
  "d4rl",
  ["cell", "d4rl"],
  "pointmaze: the expert's waypoint rule (d4rl: D4RL's controller, as Uni[MASK]; cell: ours). "
  "Each rule has its own default dataset id.",
)
_DATASET_ID = flags.DEFINE_string("dataset_id", "", "Minari id to write; empty = the study's default.")
_ENV = flags.DEFINE_string("env", "hopper", "locomotion: hopper, halfcheetah or walker2d.")
_SCALE = flags.DEFINE_enum("scale", "small", list(LOCOMOTION_SCALES), "locomotion: SAC and dataset sizes.")
_OUT = flags.DEFINE_string(
  "out",
  "",
  "locomotion: where the summary, README and curves go; empty = "
  "runs/locomotion_data/<scale> (results/ holds the committed ones, copied there on purpose).",
)


def gridworld():
  from mtm_jax.datagen import gridworld as dataset

  data = dataset.write(_DATASET_ID.value or dataset.DATASET_ID, _NUM_EPISODES.value or 2000, _BETA.value, _SEED.value)
  print(f"wrote {data.spec.dataset_id}: {data.total_episodes} episodes, {data.total_steps} steps (beta={_BETA.value})")


def pointmaze():
  from mtm_jax.datagen import pointmaze as dataset

  data = dataset.write(
    _DATASET_ID.value or dataset.DATASET_IDS[_WAYPOINTS.value],
    _NUM_EPISODES.value or 1000,
    _NOISE.value,
    _SEED.value,
    _WAYPOINTS.value,
  )
  print(
    f"wrote {data.spec.dataset_id}: {data.total_episodes} episodes, {data.total_steps} steps (noise={_NOISE.value}, "
    f"{_WAYPOINTS.value} waypoints)"
  )


# Others' numbers, shown beside ours and labelled as theirs: D4RL's reference returns (its ref_min_score and
# ref_max_score, on the v2 MuJoCo environments) and published SAC at 1M steps (10-seed means, about; issue 28).
THEIRS = {
  "hopper": {"D4RL random": -20.3, "D4RL expert": 3234.3, "published SAC, 1M steps": 2800},
  "halfcheetah": {"D4RL random": -280.2, "D4RL expert": 12135.0, "published SAC, 1M steps": 11300},
  "walker2d": {"D4RL random": 1.6, "D4RL expert": 4592.3, "published SAC, 1M steps": 4500},
}


def summaries(out: str) -> dict:
  """env -> [summary per seed], from the ``<env>-seed<seed>.json`` files in ``out``."""
  found = {}
  for name in sorted(f for f in os.listdir(out) if f.endswith(".json")):
    with open(os.path.join(out, name)) as f:
      s = json.load(f)
    found.setdefault(name.split("-seed")[0], []).append(s)
  return found


def write_report(out: str) -> None:
  """``out``/README.md and one learning-curve PNG per environment, from every summary in ``out``."""
  from mtm_jax.eval import plots

  parts = [
    "# Locomotion datasets made here (D4RL protocol, SAC in JAX)\n",
    "Made by `python -m experiments.make_dataset locomotion --env=ENV --scale=SCALE [--seed=S]`. SAC returns are "
    "of the deterministic policy (mean ± std over each snapshot's evaluation episodes); the datasets sample "
    "from the policy. Score = 100 (R - ref_min) / (ref_max - ref_min) with this dataset's own references "
    "(its random and expert levels). Numbers marked *theirs* are not ours: D4RL's reference returns and "
    "published SAC at 1M steps, on the v2 environments (ours are v5).\n",
  ]
  for env, runs in summaries(out).items():
    plots.learning_curves(
      os.path.join(out, f"{env}_sac.png"),
      {
        f"seed {s['seed']}": {
          "steps": [e["step"] for e in s["sac_evals"]],
          "means": [e["return_mean"] for e in s["sac_evals"]],
          "stds": [e["return_std"] for e in s["sac_evals"]],
          "marks": {"expert": s["expert_snapshot"]["step"], "medium": s["medium_snapshot"]["step"]},
        }
        for s in runs
      },
      f"SAC on {runs[0]['env_id']}",
      references={f"{k} (theirs)": v for k, v in THEIRS[env].items()},
    )
    rows = [
      [
        s["seed"],
        s["protocol"],
        s["sac_evals"][-1]["step"],
        _snapshot(s["sac_evals"][-1]),
        _snapshot(s["expert_snapshot"]),
        _snapshot(s["medium_snapshot"]),
      ]
      for s in runs
    ]
    parts += [
      f"## {runs[0]['env_id']}\n",
      f"![SAC learning curves]({env}_sac.png)\n",
      report.markdown_table(["seed", "protocol", "SAC steps", "final snapshot", "expert snapshot", "medium snapshot"], rows)
      + "\n",
      "Theirs: " + ", ".join(f"{k} {v:,.0f}" for k, v in THEIRS[env].items()) + ".\n",
    ]
    for s in runs:
      levels = [
        [
          level,
          r["episodes"],
          r["steps"],
          f"{r['return_mean']:.1f} ± {r['return_se']:.1f}",
          f"{r['length_mean']:.0f}",
          f"{r['score']:.1f}",
        ]
        for level, r in s["levels"].items()
      ]
      parts += [
        f"Datasets of seed {s['seed']} (`{next(iter(s['levels'].values()))['dataset_id'].rsplit('/', 1)[0]}/*`; "
        f"ref_min {s['ref_min_score']:.1f}, ref_max {s['ref_max_score']:.1f}):\n",
        report.markdown_table(["level", "episodes", "steps", "return (mean ± s.e.)", "mean length", "score"], levels) + "\n",
      ]
  with open(os.path.join(out, "README.md"), "w") as f:
    f.write("\n".join(parts))


def _snapshot(e: dict) -> str:
  return f"{e['return_mean']:.0f} ± {e['return_std']:.0f} at {e['step']:,} (length {e.get('length_mean', float('nan')):.0f})"


def locomotion():
  from mtm_jax.datagen import d4rl_protocol

  env, seed, out = _ENV.value, _SEED.value, _OUT.value or os.path.join("runs", "locomotion_data", _SCALE.value)
  summary = d4rl_protocol.make(env, _SCALE.value, seed=seed)
  os.makedirs(out, exist_ok=True)
  with open(os.path.join(out, f"{env}-seed{seed}.json"), "w") as f:
    json.dump(summary, f, indent=2)
  write_report(out)
  for row in summary["levels"].values():
    print(
      f"wrote {row['dataset_id']}: {row['episodes']} episodes, {row['steps']} steps, "
      f"return {row['return_mean']:.1f} (score {row['score']:.1f})"
    )
  print(f"summary and curves: {out} (copy them to results/locomotion_data on purpose)")


MAKERS = {"gridworld": gridworld, "pointmaze": pointmaze, "locomotion": locomotion}


def main(name: str):
  MAKERS[name]()


if __name__ == "__main__":
  cli.run(main, choices=tuple(MAKERS))
