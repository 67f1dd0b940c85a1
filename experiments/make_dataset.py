"""Generate a study's dataset and write it as a Minari dataset (under MINARI_DATASETS_PATH or ~/.minari).

python experiments/make_dataset.py gridworld [--num_episodes=2000] [--beta=1.0] [--seed=0]
python experiments/make_dataset.py pointmaze [--num_episodes=1000] [--noise=0.5] [--waypoints=cell|d4rl] [--seed=0]
python experiments/make_dataset.py locomotion --env=hopper [--scale=small] [--sac_steps=N] [--steps=N] [--seed=0]
  (SAC, then the D4RL levels as mtm_jax/<env>/<level>-v0; the SAC run resumes from runs/sac/<env>-seed<seed>;
  the summary and learning curve go to --out, default results/locomotion_data)
"""

import json
import os

import cli
import study
from absl import flags

from mtm_jax.envs.locomotion.d4rl_protocol import SCALES as LOCOMOTION_SCALES

_NUM_EPISODES = flags.DEFINE_integer("num_episodes", 0, "Trajectories to generate; 0 = the study's (2,000 / 1,000).")
_SEED = flags.DEFINE_integer("seed", 0, "Generator seed (recorded in the dataset's metadata).")
_BETA = flags.DEFINE_float("beta", 1.0, "gridworld: rationality of the Boltzmann agent (recorded in the metadata).")
_NOISE = flags.DEFINE_float("noise", 0.5, "pointmaze: std of the Gaussian action noise of the expert.")
_WAYPOINTS = flags.DEFINE_enum("waypoints", "d4rl", ["cell", "d4rl"],
                                "pointmaze: the expert's waypoint rule (d4rl: D4RL's controller, as Uni[MASK]; cell: ours). "
                                "Each rule has its own default dataset id.")
_DATASET_ID = flags.DEFINE_string("dataset_id", "", "Minari id to write; empty = the study's default.")
_ENV = flags.DEFINE_string("env", "hopper", "locomotion: hopper, halfcheetah or walker2d.")
_SCALE = flags.DEFINE_enum("scale", "small", list(LOCOMOTION_SCALES), "locomotion: SAC and dataset sizes.")
_SAC_STEPS = flags.DEFINE_integer("sac_steps", 0, "locomotion: SAC environment steps; 0 = the scale's.")
_STEPS = flags.DEFINE_integer("steps", 0, "locomotion: steps per rollout level (random, medium, expert); 0 = the scale's.")
_OUT = flags.DEFINE_string("out", "results/locomotion_data", "locomotion: where the summary and learning curve go.")


def gridworld():
  from mtm_jax.envs.gridworld import dataset

  data = dataset.write(_DATASET_ID.value or dataset.DATASET_ID, _NUM_EPISODES.value or 2000, _BETA.value, _SEED.value)
  print(f"wrote {data.spec.dataset_id}: {data.total_episodes} episodes, {data.total_steps} steps (beta={_BETA.value})")


def pointmaze():
  from mtm_jax.envs.pointmaze import dataset

  data = dataset.write(_DATASET_ID.value or dataset.DATASET_IDS[_WAYPOINTS.value], _NUM_EPISODES.value or 1000,
                       _NOISE.value, _SEED.value, _WAYPOINTS.value)
  print(f"wrote {data.spec.dataset_id}: {data.total_episodes} episodes, {data.total_steps} steps (noise={_NOISE.value}, "
        f"{_WAYPOINTS.value} waypoints)")


def write_readme(out: str) -> None:
  """results/locomotion_data/README.md: the SAC runs and one row per (env, level), from every summary in ``out``."""
  runs, rows = [], []
  for name in sorted(f for f in os.listdir(out) if f.endswith(".json")):
    with open(os.path.join(out, name)) as f:
      s = json.load(f)
    medium, final = s["medium_snapshot"], s["sac_evals"][-1]
    runs.append([s["env_id"], final["step"], f"{final['return_mean']:.0f}", f"{medium['return_mean']:.0f} at step "
                 f"{medium['step']}", f"{s['ref_min_score']:.1f}", f"{s['ref_max_score']:.1f}"])
    for level, r in s["levels"].items():
      rows.append([s["env_id"], level, r["episodes"], r["steps"], f"{r['return_mean']:.1f} ± {r['return_se']:.1f}",
                   f"{r['score']:.1f}"])
  text = ("# Locomotion datasets made here (D4RL protocol, SAC in JAX)\n\n"
          "Made by `python experiments/make_dataset.py locomotion --env=ENV` (seed 0, `small` scale: 150k SAC steps, "
          "100k steps per rollout level). SAC returns are of the deterministic policy (5 evaluation episodes per "
          "snapshot); the datasets sample from the policy. D4RL's SAC experts reach about Hopper 3,200, HalfCheetah "
          "12,000, Walker2d 4,600 after 1M steps.\n\n"
          + study.markdown_table(["environment", "SAC steps", "final return", "medium snapshot", "ref_min (random)",
                                  "ref_max (expert)"], runs)
          + "\n\nScore = 100 (R - ref_min) / (ref_max - ref_min), with this dataset's own references.\n\n"
          + study.markdown_table(["environment", "level", "episodes", "steps", "return (mean ± s.e.)", "score"], rows)
          + "\n\nLearning curves (evaluation return ± std, the medium snapshot marked): `*_sac.png`.\n")
  with open(os.path.join(out, "README.md"), "w") as f:
    f.write(text)


def locomotion():
  from mtm_jax.envs.locomotion import d4rl_protocol
  from mtm_jax.evaluate import plots

  env, seed = _ENV.value, _SEED.value
  scale = LOCOMOTION_SCALES[_SCALE.value]
  sac_steps, steps = scale.sac_steps, scale.dataset_steps
  summary = d4rl_protocol.make(env, f"runs/sac/{env}-seed{seed}", sac_steps=_SAC_STEPS.value or sac_steps,
                               dataset_steps=_STEPS.value or steps, seed=seed)
  os.makedirs(_OUT.value, exist_ok=True)
  with open(os.path.join(_OUT.value, f"{env}.json"), "w") as f:
    json.dump(summary, f, indent=2)
  evals = summary["sac_evals"]
  plots.learning_curve(os.path.join(_OUT.value, f"{env}_sac.png"), [e["step"] for e in evals],
                       [e["return_mean"] for e in evals], [e["return_std"] for e in evals], f"SAC on {summary['env_id']}",
                       marks={"medium snapshot": summary["medium_snapshot"]["step"]})
  write_readme(_OUT.value)
  for level, row in summary["levels"].items():
    print(f"wrote mtm_jax/{env}/{level}-v0: {row['episodes']} episodes, {row['steps']} steps, "
          f"return {row['return_mean']:.1f} (score {row['score']:.1f})")


MAKERS = {"gridworld": gridworld, "pointmaze": pointmaze, "locomotion": locomotion}


def main(name: str):
  MAKERS[name]()


if __name__ == "__main__":
  cli.run(main, choices=tuple(MAKERS))
