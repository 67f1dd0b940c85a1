"""Uni[MASK]'s Maze2D (Table 1): stacked model, continuous heads, returns under the `first` policy.

Variants (configs/pointmaze.py:VARIANT,K with K the context length, 5 or 10):
  bc, rcbc                    single-task
  states_bc, states_rcbc      single-task on a state-only history (past actions hidden in training and
                              rollouts; not in the paper: it tests for copycat policies)
  multi_task                  bc + rcbc
  random                      Uni[MASK] random masking
  finetune_bc, finetune_rcbc  random -> that task at a lower learning rate (needs --config.train.init_from)
  decision_gpt_bc,            the same model with causal attention, trained on that task (rcbc: the
  decision_gpt_rcbc           window's first return-to-go plus steps remaining)
  mlp_bc, mlp_rcbc            the MLP baseline on the same inputs
Run:   python -m experiments.make_dataset pointmaze
       python -m experiments.train --config configs/pointmaze.py:rcbc,10 --workdir runs/maze/rcbc_10
"""

import ml_collections

DATASET_ID = "mtm_jax/pointmaze-medium-novel-d4rl-expert-v0"  # written by experiments/make_dataset.py pointmaze
VARIANTS = (
  "bc",
  "rcbc",
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


def get_config(arg: str = "rcbc,10") -> ml_collections.ConfigDict:
  variant, _, context = arg.partition(",")
  if variant not in VARIANTS or context not in ("", "5", "10"):
    raise ValueError(f"unknown variant {arg!r}; use VARIANT,K with VARIANT in {VARIANTS} and K in (5, 10)")
  c = ml_collections.ConfigDict()
  c.seed = 0

  c.data = ml_collections.ConfigDict()
  c.data.source = "minari"
  c.data.dataset_id = DATASET_ID
  c.data.download = False
  c.data.include_rewards = False
  c.data.return_discount = 1.0
  c.data.on_nonfinite = "error"
  c.data.validation_fraction = 0.1
  c.data.num_validation = 100  # 900 train, 100 validation trajectories
  c.data.num_train = 0

  c.window = int(context or 10)

  c.model = ml_collections.ConfigDict()
  c.model.kind = "mlp" if variant.startswith("mlp_") else "transformer"
  c.model.token_layout = "stacked"
  # The Uni[MASK] reference's network and no dropout (results/maze_small/AUDIT.md).
  c.model.width = 128
  c.model.num_heads = 16
  c.model.encoder_layers = 4
  c.model.decoder_layers = 0
  c.model.mlp_ratio = 1
  c.model.dropout = 0.0
  c.model.causal = variant.startswith("decision_gpt_")
  c.model.positions = "sinusoidal"
  c.model.max_horizon = 200  # steps remaining beside the first return-to-go
  c.model.mlp_hidden = (256, 256)
  c.model.dtype = "float32"

  c.masks = ml_collections.ConfigDict()
  c.masks.tasks = ()
  c.masks.weights = ()
  c.masks.return_policy = "first"
  c.masks.task_params = ml_collections.ConfigDict()

  c.train = ml_collections.ConfigDict()
  c.train.regime = "single_task"
  c.train.init_from = ""
  c.train.batch_size = 100
  c.train.num_steps = 20000
  c.train.learning_rate = 3e-4
  c.train.warmup_steps = 500
  c.train.final_lr_fraction = 0.1
  c.train.weight_decay = 0.01
  c.train.grad_clip = 1.0
  c.train.loss_on = "hidden"
  c.train.log_every = 200
  c.train.tensorboard = True
  c.train.checkpoint_every = 2000
  c.train.keep_checkpoints = 2
  c.train.max_nonfinite_steps = 20
  c.train.num_devices = 0
  c.train.pack_encoder = True  # MAE encoder on visible tokens only, packed (exact; a batch that overflows runs dense)

  c.eval = ml_collections.ConfigDict()
  c.eval.tasks = ("bc", "rcbc")
  c.eval.num_windows = 2048
  c.eval.batch_size = 512
  c.eval.seed = 1234

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
    c.train.num_steps = 5000
  return c
