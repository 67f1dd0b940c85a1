"""The Uni[MASK] key-door gridworld: stacked BERT-style model, discrete heads, one config per regime.

Variants (configs/gridworld.py:VARIANT):
  random                      Uni[MASK] random masking
  multi_task                  every task in TASKS, uniformly
  bc, rcbc, goal, ...         single-task, one per name in TASKS
  finetune_bc, ...            random -> that task at a lower learning rate (needs --config.train.init_from)
Run:   python -m experiments.make_dataset gridworld
       python -m experiments.train --config configs/gridworld.py:random --workdir runs/gridworld/random --config.seed=0
The whole study (every regime and seed, loss matrix, rollouts, report): experiments/reproduce_gridworld.py.
"""

import ml_collections

TASKS = ("bc", "rcbc", "goal", "waypoint", "past", "future", "forward_dynamics", "backwards_dynamics")
DATASET_ID = "mtm_jax/keydoor-boltzmann-v0"  # written by experiments/make_dataset.py gridworld


def get_config(variant: str = "random") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0  # every random draw of the run derives from this

  c.data = ml_collections.ConfigDict()
  c.data.source = "minari"
  c.data.dataset_id = DATASET_ID
  c.data.download = False
  c.data.include_rewards = False
  c.data.return_discount = 1.0
  c.data.on_nonfinite = "error"
  c.data.validation_fraction = 0.5
  c.data.num_validation = 1000  # the last 1,000 trajectories are held out
  c.data.num_train = 1000  # trained on the first num_train of the rest (50 / 500 / 1,000)

  c.window = 10  # T: a whole episode

  c.model = ml_collections.ConfigDict()
  c.model.kind = "transformer"
  c.model.token_layout = "stacked"  # one token per timestep (Uni[MASK])
  c.model.width = 64
  c.model.num_heads = 4
  c.model.encoder_layers = 2
  c.model.decoder_layers = 0  # BERT: one bidirectional encoder over every token
  c.model.mlp_ratio = 4
  c.model.dropout = 0.1
  c.model.causal = False
  c.model.positions = "sinusoidal"
  c.model.max_horizon = 10  # steps remaining beside the first return-to-go
  c.model.mlp_hidden = (256, 256)
  c.model.dtype = "float32"

  c.masks = ml_collections.ConfigDict()
  c.masks.tasks = ()
  c.masks.weights = ()
  c.masks.return_policy = "first"  # only the window's first return-to-go is ever shown or scored
  c.masks.task_params = ml_collections.ConfigDict()

  c.train = ml_collections.ConfigDict()
  c.train.regime = "random"
  c.train.init_from = ""
  c.train.batch_size = 32
  c.train.num_steps = 3000
  c.train.learning_rate = 1e-3
  c.train.warmup_steps = 100
  c.train.final_lr_fraction = 0.1
  c.train.weight_decay = 0.01
  c.train.grad_clip = 1.0
  c.train.loss_on = "hidden"  # Uni[MASK] scores the hidden targets only
  c.train.log_every = 100
  c.train.tensorboard = True
  c.train.checkpoint_every = 1000
  c.train.keep_checkpoints = 1
  c.train.max_nonfinite_steps = 20
  c.train.num_devices = 0
  c.train.pack_encoder = True  # MAE encoder on visible tokens only, packed (exact; a batch that overflows runs dense)

  c.eval = ml_collections.ConfigDict()
  c.eval.tasks = TASKS
  c.eval.num_windows = 1000  # every held-out trajectory
  c.eval.batch_size = 500
  c.eval.seed = 1234

  if variant == "random":
    pass
  elif variant == "multi_task":
    c.train.regime, c.masks.tasks = "multi_task", TASKS
  elif variant in TASKS:
    c.train.regime, c.masks.tasks = "single_task", (variant,)
  elif variant.startswith("finetune_") and variant[len("finetune_") :] in TASKS:
    c.train.regime, c.masks.tasks = "finetune", (variant[len("finetune_") :],)
    c.train.learning_rate = 3e-4
    c.train.num_steps = 1000
    c.train.warmup_steps = 50
  else:
    raise ValueError(f"unknown variant {variant!r}; use random, multi_task, one of {TASKS} or finetune_<task>")
  return c
