"""Generate a study's dataset and write it as a Minari dataset (under MINARI_DATASETS_PATH or ~/.minari).

python experiments/make_dataset.py gridworld [--num_episodes=2000] [--beta=1.0] [--seed=0]
python experiments/make_dataset.py pointmaze [--num_episodes=1000] [--noise=0.5] [--seed=0]
"""

import cli
from absl import flags

_NUM_EPISODES = flags.DEFINE_integer("num_episodes", 0, "Trajectories to generate; 0 = the study's (2,000 / 1,000).")
_SEED = flags.DEFINE_integer("seed", 0, "Generator seed (recorded in the dataset's metadata).")
_BETA = flags.DEFINE_float("beta", 1.0, "gridworld: rationality of the Boltzmann agent (recorded in the metadata).")
_NOISE = flags.DEFINE_float("noise", 0.5, "pointmaze: std of the Gaussian action noise of the expert.")
_DATASET_ID = flags.DEFINE_string("dataset_id", "", "Minari id to write; empty = the study's default.")


def gridworld():
  from mtm_jax.envs.gridworld import dataset

  data = dataset.write(_DATASET_ID.value or dataset.DATASET_ID, _NUM_EPISODES.value or 2000, _BETA.value, _SEED.value)
  print(f"wrote {data.spec.dataset_id}: {data.total_episodes} episodes, {data.total_steps} steps (beta={_BETA.value})")


def pointmaze():
  from mtm_jax.envs.pointmaze import dataset

  data = dataset.write(_DATASET_ID.value or dataset.DATASET_ID, _NUM_EPISODES.value or 1000, _NOISE.value, _SEED.value)
  print(f"wrote {data.spec.dataset_id}: {data.total_episodes} episodes, {data.total_steps} steps (noise={_NOISE.value})")


MAKERS = {"gridworld": gridworld, "pointmaze": pointmaze}


def main(name: str):
  MAKERS[name]()


if __name__ == "__main__":
  cli.run(main, choices=tuple(MAKERS))
