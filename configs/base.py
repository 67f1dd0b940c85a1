"""Every experiment key once, with what it means: the recipes (sinusoid, gridworld, pointmaze, locomotion) start
from ``get_config()`` and override only what differs, so a key a recipe leaves alone means the library's
default (``mtm_jax.experiment``), never a silent default of its own.

``variants(arg, **choices)`` reads a recipe's variant string the same way for every recipe:
``configs/locomotion.py:scale=small,env=hopper`` (keywords), or its values in the recipe's order
(``small,hopper``). A study's scale is such a variant, so what a study trains is what its config says.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0  # every random draw of the run derives from this

  c.data = ml_collections.ConfigDict()
  c.data.source = "sinusoid"  # "sinusoid" (generated here) or "minari"
  c.data.dataset_id = ""  # Minari id (namespace/name-vN) when source="minari"
  c.data.download = False  # let Minari download a published dataset missing from this machine
  c.data.include_rewards = False  # add per-step rewards as an extra modality (Minari)
  c.data.return_discount = 1.0  # discount of the returns-to-go the loader computes
  c.data.returns = "sum"  # "sum": return-to-go (Decision Transformer); "average": reward per step left (MTM)
  c.data.on_nonfinite = "error"  # "error", or "drop_episode": train without episodes holding NaN/Inf
  c.data.num_episodes = 2000  # sinusoid: how many sequences to generate
  c.data.episode_length = 32  # sinusoid: steps per sequence
  c.data.noise = 0.03  # sinusoid: std of the additive noise
  c.data.seed = 0  # sinusoid: generator seed
  c.data.validation_fraction = 0.1  # share of episodes (the last ones) held out
  c.data.num_validation = 0  # >0: exact number of held-out episodes, overriding the fraction
  c.data.num_train = 0  # >0: train on only the first num_train non-validation episodes
  c.data.train_steps = 0  # >0: and on only their first train_steps steps (shares of data matched by transitions)
  c.data.unscaled_below_std = 0.0  # features with a smaller std are centred, not scaled (reference MTM: 0.1)
  # Heteromodal training: only this share of the training episodes keeps its actions (the rest are state-only;
  # so is any episode whose actions are all NaN in the data); held-out episodes keep theirs.
  c.data.action_fraction = 1.0
  c.data.action_seed = 0  # draws the labelled episodes
  c.data.labelled_episodes = ()  # or name them (training-episode indices); a run records the drawn ones here
  c.data.unlabelled = "state_only"  # the other training episodes: "state_only", or "drop" (train on labelled ones)
  c.data.labelled_share = 0.5  # least share of windows from labelled episodes (reference MTM: alternate batches)

  c.window = 16  # T: steps per training window

  c.model = ml_collections.ConfigDict()
  c.model.kind = "transformer"  # "transformer" or "mlp" (baseline)
  c.model.token_layout = "per_modality"  # "per_modality" (MTM) or "stacked" (Uni[MASK]: one token per step)
  c.model.width = 128  # embedding width
  c.model.num_heads = 4  # attention heads
  c.model.encoder_layers = 2  # encoder blocks (MAE: over the visible tokens)
  c.model.decoder_layers = 1  # MAE decoder blocks over all tokens; 0 = one encoder over all tokens (BERT)
  c.model.mlp_ratio = 4  # feed-forward width / embedding width
  c.model.dropout = 0.0  # dropout rate (where: dropout_placement)
  c.model.dropout_placement = "residual"  # "residual": inputs and residual branches; "torch": PyTorch's (reference MTM)
  c.model.token_init = "normal"  # modality embeddings and mask tokens: "normal" N(0, 0.02) or "zeros" (reference MTM)
  c.model.decoder_embed = "shared"  # encoder-to-decoder projection: "shared" or "per_modality" (reference MTM)
  c.model.param_init = "flax"  # Dense layers' initial weights: "flax" (LeCun normal) or "torch" (PyTorch's)
  c.model.causal = False  # GPT-style causal attention (Decision-GPT baseline)
  c.model.positions = "sinusoidal"  # "sinusoidal" or "learned" time positions
  c.model.max_horizon = 0  # >0: embed steps remaining beside the first return-to-go
  c.model.mlp_hidden = (256, 256)  # hidden sizes of the MLP baseline
  c.model.dtype = "float32"  # matmul compute dtype ("bfloat16" on accelerators)

  c.masks = ml_collections.ConfigDict()
  c.masks.tasks = ("random_autoregressive",)  # mask tasks the regime draws from (masks.TASKS)
  c.masks.weights = ()  # per-task weights for multi_task; empty = uniform
  c.masks.return_policy = "all"  # "first" (Uni[MASK]: only the first return-to-go) or "all" (MTM)
  c.masks.task_params = ml_collections.ConfigDict()  # per task keyword arguments, e.g. keep_ratios

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
  c.train.loss_on = "all"  # "all" tokens (MTM) or only "hidden" targets (Uni[MASK])
  c.train.mask_granularity = "sample"  # a mask per "sample", or one per "batch" (reference MTM; encodes densely)
  c.train.log_every = 50  # steps between metric lines
  c.train.tensorboard = True  # TensorBoard event files in the workdir beside metrics.jsonl
  c.train.checkpoint_every = 500  # steps between checkpoints
  c.train.keep_checkpoints = 3  # newest checkpoints kept
  c.train.max_nonfinite_steps = 20  # consecutive NaN/Inf steps (skipped) before the run stops
  c.train.num_devices = 0  # devices in the data mesh; 0 = all
  c.train.pack_encoder = True  # MAE encoder on visible tokens only, packed (exact; a batch that overflows runs dense)

  c.eval = ml_collections.ConfigDict()
  c.eval.tasks = ()  # tasks scored on held-out windows; empty = every task in masks.TASKS
  c.eval.num_windows = 512  # held-out windows per task (the same for every model)
  c.eval.batch_size = 256  # windows per evaluation call
  c.eval.seed = 1234  # fixes the evaluation masks
  c.eval.target_rule = "start:1.0"  # rollout return target: start:Q, fraction:P, fixed:V or best:M (rollout.return_target)
  c.eval.every = 0  # >0: training scores eval.tasks on held-out windows every this many steps and at its end
  return c


def variants(arg: str, **choices) -> dict:
  """A recipe's variant string as {name: value}. ``choices``: name -> its allowed values (the first is the
  default) in the recipe's order, or a type (int, float) for a free value whose default follows as
  ``(type, default)``. ``arg``: ``name=value`` pairs, or bare values in that order, joined by commas."""
  names, chosen = list(choices), {}
  for i, part in enumerate(p for p in arg.split(",") if p):
    name, sep, value = part.partition("=")
    if not sep:
      if i >= len(names):
        raise ValueError(f"variant {arg!r} has more values than {names}; name them: {_usage(choices)}")
      name, value = names[i], part
    if name not in choices:
      raise ValueError(f"unknown variant key {name!r} in {arg!r}; the keys are {_usage(choices)}")
    if name in chosen:
      raise ValueError(f"variant {arg!r} sets {name} twice")
    allowed = choices[name]
    if isinstance(allowed[0], type):
      try:
        chosen[name] = allowed[0](value)
      except ValueError:
        raise ValueError(f"variant {name}={value!r} is not a {allowed[0].__name__}") from None
    elif value in allowed:
      chosen[name] = value
    else:
      raise ValueError(f"unknown {name}={value!r} in variant {arg!r}; choose from {list(allowed)}")
  defaults = {n: (a[1] if isinstance(a[0], type) else a[0]) for n, a in choices.items()}
  return {**defaults, **chosen}


def _usage(choices: dict) -> str:
  return ", ".join(f"{n}=" + ("|".join(map(str, a)) if not isinstance(a[0], type) else a[0].__name__) for n, a in choices.items())


def sized(c: ml_collections.ConfigDict, steps: int) -> ml_collections.ConfigDict:
  """``steps`` optimizer steps with warmup, logging and checkpoints scaled to fit (a scale's run length)."""
  c.train.num_steps = steps
  c.train.warmup_steps = min(c.train.warmup_steps, steps // 10)
  c.train.log_every = max(1, min(c.train.log_every, steps // 5))
  c.train.checkpoint_every = min(c.train.checkpoint_every, steps)
  return c
