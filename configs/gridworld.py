"""The Uni[MASK] key-door gridworld: stacked BERT-style model, discrete heads, one config per regime.

Variants (configs/gridworld.py:regime=R,scale=S, or R,S):
  regime  random (default)       Uni[MASK] random masking
          multi_task             every task in TASKS, uniformly
          bc, rcbc, goal, ...    single-task, one per name in TASKS
          finetune_bc, ...       random -> that task at a lower learning rate (needs --config.train.init_from)
  scale   full (default)         the paper's: 10,000 steps (3,000 finetuning)
          small                  the demo study's: 1,500 (500)
          smoke                  a pipeline check: 30 (15), width 32, one layer
Run:   python -m experiments.make_dataset gridworld
       python -m experiments.train --config configs/gridworld.py:regime=random --workdir runs/gridworld/random --config.seed=0
The whole study (every regime and seed, loss matrix, rollouts, report): experiments/reproduce_gridworld.py.
"""

import ml_collections

from configs import base

TASKS = ("bc", "rcbc", "goal", "waypoint", "past", "future", "forward_dynamics", "backwards_dynamics")
REGIMES = ("random", "multi_task", *TASKS, *(f"finetune_{t}" for t in TASKS))
DATASET_ID = "mtm_jax/keydoor-boltzmann-v0"  # written by python -m experiments.make_dataset gridworld
# scale -> (steps, finetuning steps, width, encoder layers, batch)
SCALES = {"full": (10_000, 3_000, 64, 2, 32), "small": (1500, 500, 64, 2, 32), "smoke": (30, 15, 32, 1, 16)}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  v = base.variants(arg, regime=REGIMES, scale=tuple(SCALES))
  regime = v["regime"]
  c = base.get_config()
  c.data.source = "minari"
  c.data.dataset_id = DATASET_ID
  c.data.validation_fraction = 0.5
  c.data.num_validation = 1000  # the last 1,000 trajectories are held out
  c.data.num_train = 1000  # trained on the first num_train of the rest (50 / 500 / 1,000)

  c.window = 10  # T: a whole episode

  c.model.token_layout = "stacked"  # one token per timestep (Uni[MASK])
  c.model.decoder_layers = 0  # BERT: one bidirectional encoder over every token
  c.model.dropout = 0.1
  c.model.max_horizon = 10  # steps remaining beside the first return-to-go

  c.masks.tasks = ()
  c.masks.return_policy = "first"  # only the window's first return-to-go is ever shown or scored

  c.train.regime = "random"
  c.train.loss_on = "hidden"  # Uni[MASK] scores the hidden targets only
  c.train.log_every = 100
  c.train.checkpoint_every = 1000
  c.train.keep_checkpoints = 1

  c.eval.tasks = TASKS
  c.eval.num_windows = 1000  # every held-out trajectory
  c.eval.batch_size = 500

  steps, finetune_steps, c.model.width, c.model.encoder_layers, c.train.batch_size = SCALES[v["scale"]]
  if regime == "multi_task":
    c.train.regime, c.masks.tasks = "multi_task", TASKS
  elif regime in TASKS:
    c.train.regime, c.masks.tasks = "single_task", (regime,)
  elif regime.startswith("finetune_"):
    c.train.regime, c.masks.tasks = "finetune", (regime.removeprefix("finetune_"),)
    c.train.learning_rate = 3e-4
    c.train.warmup_steps = 50
    steps = finetune_steps
  return base.sized(c, steps)
