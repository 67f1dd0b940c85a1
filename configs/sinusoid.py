"""MTM's toy sinusoids, random-autoregressive masking, per-modality MAE transformer.

Run:   python -m experiments.train --config configs/sinusoid.py --workdir runs/sinusoid
Smoke: python -m experiments.train --config configs/sinusoid.py:smoke --workdir /tmp/sinusoid
Expect: validation reconstruct loss well below 0.1 (normalised MSE) after the default 2,000 steps,
about two minutes on a 2-core CPU.
"""

import ml_collections


def get_config(variant: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0  # every random draw of the run derives from this

  c.data = ml_collections.ConfigDict()
  c.data.source = "sinusoid"  # "sinusoid" or "minari"
  c.data.dataset_id = ""  # Minari id (namespace/name-vN) when source="minari"
  c.data.download = False  # let Minari download a dataset missing from this machine
  c.data.include_rewards = False  # add per-step rewards as an extra modality (Minari)
  c.data.return_discount = 1.0  # discount of the returns-to-go the loader computes
  c.data.on_nonfinite = "error"  # "error", or "drop_episode": train without episodes holding NaN/Inf
  c.data.num_episodes = 2000  # sinusoid: how many sequences to generate
  c.data.episode_length = 32  # sinusoid: steps per sequence
  c.data.noise = 0.03  # sinusoid: std of the additive noise
  c.data.seed = 0  # sinusoid: generator seed
  c.data.unscaled_below_std = 0.0  # features with a smaller std are centred, not scaled (reference MTM: 0.1)
  c.data.validation_fraction = 0.1  # share of episodes (the last ones) held out
  c.data.num_validation = 0  # >0: exact number of held-out episodes, overriding the fraction
  c.data.num_train = 0  # >0: train on only the first num_train non-validation episodes

  c.window = 16  # T: steps per training window

  c.model = ml_collections.ConfigDict()
  c.model.kind = "transformer"  # "transformer" or "mlp" (baseline)
  c.model.token_layout = "per_modality"  # "per_modality" (MTM) or "stacked" (Uni[MASK])
  c.model.width = 64  # embedding width
  c.model.num_heads = 4  # attention heads
  c.model.encoder_layers = 2  # encoder blocks
  c.model.decoder_layers = 1  # MAE decoder blocks; 0 = one encoder over all tokens
  c.model.mlp_ratio = 4  # feed-forward width / embedding width
  c.model.dropout = 0.0  # dropout rate (where: dropout_placement)
  c.model.dropout_placement = "residual"  # "residual": inputs and residual branches; "torch": PyTorch's (reference MTM)
  c.model.token_init = "normal"  # modality embeddings and mask tokens: "normal" N(0, 0.02) or "zeros" (reference MTM)
  c.model.decoder_embed = "shared"  # encoder-to-decoder projection: "shared" or "per_modality" (reference MTM)
  c.model.param_init = "flax"  # Dense layers' initial weights: "flax" defaults or "torch" (PyTorch's, reference MTM)
  c.model.causal = False  # GPT-style causal attention (Decision-GPT baseline)
  c.model.positions = "sinusoidal"  # "sinusoidal" or "learned" time positions
  c.model.max_horizon = 0  # >0: embed steps remaining beside the first return-to-go
  c.model.mlp_hidden = (256, 256)  # hidden sizes of the MLP baseline
  c.model.dtype = "float32"  # matmul compute dtype ("bfloat16" on accelerators)

  c.masks = ml_collections.ConfigDict()
  c.masks.tasks = ("random_autoregressive",)  # mask tasks the regime draws from (masks.TASKS)
  c.masks.weights = ()  # per-task weights for multi_task; empty = uniform
  c.masks.return_policy = "all"  # "first" (Uni[MASK]) or "all" (MTM / Decision Transformer)
  c.masks.task_params = ml_collections.ConfigDict()  # per task keyword args, e.g. keep_ratios
  c.masks.task_params.random_autoregressive = ml_collections.ConfigDict()
  c.masks.task_params.random_autoregressive.keep_ratios = (0.7, 0.8, 0.85, 0.9, 0.95, 1.0)
  c.masks.task_params.random_autoregressive.mode_weights = (0.2, 0.1, 0.7)
  c.masks.task_params.random_autoregressive.ratio_per_modality = False  # True: a keep ratio per modality (reference MTM)

  c.train = ml_collections.ConfigDict()
  c.train.regime = "random_autoregressive"  # single_task, multi_task, random, random_autoregressive, finetune
  c.train.init_from = ""  # finetune: workdir of the pretrained run
  c.train.batch_size = 32  # windows per step (global, split over devices)
  c.train.num_steps = 2000  # optimizer steps
  c.train.learning_rate = 1e-3  # peak learning rate
  c.train.warmup_steps = 100  # linear warmup steps
  c.train.final_lr_fraction = 0.1  # cosine decays to this fraction of the peak
  c.train.weight_decay = 0.01  # AdamW decay on weight matrices only
  c.train.grad_clip = 1.0  # global-norm clip; 0 disables
  c.train.mask_granularity = "sample"  # a mask per "sample", or one per "batch" (reference MTM; encodes densely)
  c.train.loss_on = "all"  # "all" tokens (MTM) or only "hidden" targets (Uni[MASK])
  c.train.log_every = 50  # steps between metric lines
  c.train.tensorboard = True  # TensorBoard event files in the workdir beside metrics.jsonl
  c.train.checkpoint_every = 500  # steps between checkpoints
  c.train.keep_checkpoints = 3  # newest checkpoints kept
  c.train.max_nonfinite_steps = 20  # consecutive NaN/Inf steps (skipped) before the run stops
  c.train.num_devices = 0  # devices in the data mesh; 0 = all
  c.train.pack_encoder = True  # MAE encoder on visible tokens only, packed (exact; a batch that overflows runs dense)

  c.eval = ml_collections.ConfigDict()
  c.eval.tasks = ()  # tasks scored during evaluation; empty = every task in masks.TASKS
  c.eval.num_windows = 512  # held-out windows per task (the same for every model)
  c.eval.batch_size = 256  # windows per evaluation call
  c.eval.seed = 1234  # fixes the evaluation masks

  if variant == "smoke":
    c.data.num_episodes = 64
    c.window = 8
    c.model.width = 32
    c.model.num_heads = 2
    c.model.encoder_layers = 1
    c.train.batch_size = 16
    c.train.num_steps = 20
    c.train.warmup_steps = 5
    c.train.log_every = 5
    c.train.checkpoint_every = 10
    c.eval.num_windows = 32
  elif variant:
    raise ValueError(f"unknown variant {variant!r}; use '' or 'smoke'")
  return c
