"""Uni[MASK]'s Maze2D (Table 1): stacked model, continuous heads, returns under the `first` policy.

Variants (configs/pointmaze.py:model=M,context=K,scale=S, or M,K,S; K the context length, 5 or 10):
  bc, rcbc                    single-task
  states_bc, states_rcbc      single-task on a state-only history (past actions hidden in training and
                              rollouts; not in the paper: it tests for copycat policies)
  multi_task                  bc + rcbc
  random                      Uni[MASK] random masking
  finetune_bc, finetune_rcbc  random -> that task at a lower learning rate (needs --config.train.init_from)
  decision_gpt_bc,            the same model with causal attention, trained on that task (rcbc: the
  decision_gpt_rcbc           window's first return-to-go plus steps remaining)
  mlp_bc, mlp_rcbc            the MLP baseline on the same inputs
Scales: full (default; the Uni[MASK] reference's network, 20,000 steps), small (the CPU study's narrower,
shallower one, 4,000 steps), smoke (a pipeline check).
Run:   python -m experiments.make_dataset pointmaze
       python -m experiments.train --config configs/pointmaze.py:model=rcbc,context=10 --workdir runs/maze/rcbc_10
"""

import ml_collections

from configs import base

DATASET_ID = "mtm_jax/pointmaze-medium-novel-d4rl-expert-v0"  # written by python -m experiments.make_dataset pointmaze
VARIANTS = (
  "rcbc",
  "bc",
  "states_bc",
  "states_rcbc",
  "multi_task",
  "random",
  "finetune_bc",
  "finetune_rcbc",
  "decision_gpt_bc",
  "decision_gpt_rcbc",
  "mlp_bc",
  "mlp_rcbc",
)
# scale -> steps, finetuning steps, width, encoder layers, heads, mlp ratio, batch, held-out trajectories.
# full is the Uni[MASK] reference's network and no dropout; small a narrower, shallower one (the reference's
# shape cost 2.6x the time for +0.14 on BC K=5, within noise: results/maze_small/AUDIT.md).
SCALES = {
  "full": (20_000, 5000, 128, 4, 16, 1, 100, 100),
  "small": (4000, 1500, 64, 2, 4, 4, 64, 100),
  "smoke": (10, 5, 32, 1, 4, 4, 16, 3),
}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  v = base.variants(arg, model=VARIANTS, context=("10", "5"), scale=tuple(SCALES))
  variant = v["model"]
  c = base.get_config()
  c.data.source = "minari"
  c.data.dataset_id = DATASET_ID

  c.window = int(v["context"])

  c.model.kind = "mlp" if variant.startswith("mlp_") else "transformer"
  c.model.token_layout = "stacked"
  c.model.decoder_layers = 0
  c.model.causal = variant.startswith("decision_gpt_")
  c.model.max_horizon = 200  # steps remaining beside the first return-to-go

  c.masks.tasks = ()
  c.masks.return_policy = "first"

  c.train.regime = "single_task"
  c.train.learning_rate = 3e-4
  c.train.warmup_steps = 500
  c.train.loss_on = "hidden"
  c.train.log_every = 200
  c.train.checkpoint_every = 2000
  c.train.keep_checkpoints = 2

  c.eval.tasks = ("bc", "rcbc")
  c.eval.num_windows = 2048
  c.eval.batch_size = 512

  steps, finetune_steps, c.model.width, c.model.encoder_layers, c.model.num_heads, c.model.mlp_ratio, c.train.batch_size = SCALES[
    v["scale"]
  ][:7]
  c.data.num_validation = SCALES[v["scale"]][7]  # of the generated trajectories (1,000; 30 at smoke)
  task = variant.split("_")[-1]
  if variant in ("bc", "rcbc", "mlp_bc", "mlp_rcbc", "decision_gpt_bc", "decision_gpt_rcbc"):
    c.masks.tasks = (task,)
  elif variant.startswith("states_"):
    c.masks.tasks = (task,)
    c.masks.task_params[task] = ml_collections.ConfigDict({"past_actions": False})
  elif variant == "multi_task":
    c.train.regime, c.masks.tasks = "multi_task", ("bc", "rcbc")
  elif variant == "random":
    c.train.regime = "random"
  else:  # finetune_bc, finetune_rcbc
    c.train.regime, c.masks.tasks = "finetune", (task,)
    c.train.learning_rate = 1e-4
    steps = finetune_steps
  return base.sized(c, steps)
