"""MTM's D4RL locomotion recipe: per-modality tokens, MAE encoder 2 + decoder 1, random-autoregressive masks mixed
with the task masks the model is asked (covering_masks), MTM's average-reward returns at every step, loss on all
tokens.

Variants (configs/locomotion.py:scale=S,env=E,level=L,model=M, or S,E,L,M in that order): E hopper (default),
halfcheetah or walker2d; L a D4RL level made by python -m experiments.make_dataset locomotion, medium by default;
M mtm (default), a specialist trained on one task's mask (bc, rcbc, inverse_dynamics, forward_dynamics; mlp_TASK
for the window MLP baseline; paper_mlp_TASK for the paper's fixed-input MLP: paper_mlp_bc from s_t,
paper_mlp_rcbc from (s_t, R_t), paper_mlp_inverse_dynamics from every state; its forward dynamics is
mlp_forward_dynamics), mtm_reference, the MTM on the reference's random-autoregressive masks alone, or
mtm_heteromodal, the reference's heteromodal recipe (those masks and its inverse-dynamics mask, half each), or
reference_forward_dynamics, the reference's forward-dynamics specialist (its training mask, loss on every token).
The scales are the locomotion studies' (studies/mtm.py, heteromodal.py, representation.py train these):
  full    the released recipe (width 512, batch 2048, 140k steps, 40k warmup): for an accelerator
  small   sized for a 2-core CPU (width 64, batch 128, 3,000 steps)
  smoke   a few steps, for tests
Run:   python -m experiments.make_dataset locomotion --env=hopper --scale=small   (a scale trains on its own data)
       python -m experiments.train --config configs/locomotion.py:scale=small,env=hopper --workdir runs/loco/hopper_medium
       python -m experiments.rollout --workdir runs/loco/hopper_medium --task rcbc --episodes 100
Measured with the former random-autoregressive masks alone (now model=mtm_reference), hopper medium at the former
small size (width 128, batch 256, 5,000 steps), 100 episodes, target fraction:1.0: rcbc 59.9 ± 1.0, bc 21.7 ± 0.1,
rcbc_imagine 35.1 ± 0.0 normalised, against the dataset's own 29.8 (results/locomotion_data/MTM_SMALL.md); the
covering default is not yet measured there.
Any published Minari set works the same way:
--config.data.dataset_id=mujoco/hopper/medium-v0 --config.data.download=True (those sets record no reference
scores, Minari issue 323: rollouts on them report raw returns, no normalised score).
"""

import ml_collections

from configs import base
from mtm_jax import masks
from mtm_jax.coverage import INFERENCE_TASKS
from mtm_jax.envs.locomotion import ENVS, LEVELS, dataset_id
from mtm_jax.eval.capabilities import CAPABILITIES, REFERENCE_ASKED


def paper_mlp(task: str) -> str:
  """The MODEL of the paper's fixed-input MLP for ``task``: paper_mlp_TASK where the reference's inputs differ from
  the library's mask (REFERENCE_ASKED), else the window MLP itself. Its forward-dynamics MLP (the states so far and
  an action -> the next state) is the library's mask already: one recipe, one model, which a study trains once."""
  return f"paper_mlp_{task}" if task in REFERENCE_ASKED else f"mlp_{task}"


# The MTM study's models (experiments/reproduce_mtm.py): one MTM, the MTM on the reference's masks alone, and
# specialists trained on one capability's mask: the transformer, the window MLP, and the paper's fixed-input MLP.
MODELS = (
  "mtm",
  "mtm_reference",
  "mtm_heteromodal",
  *CAPABILITIES,
  *(f"mlp_{t}" for t in CAPABILITIES),
  *(f"paper_mlp_{t}" for t in REFERENCE_ASKED),
  "reference_forward_dynamics",
)

# The MTM recipe covers its inference (mtm_jax.coverage): the reference's random-autoregressive masks never show
# a model BC with history, forward or inverse dynamics past the first step, rcbc_imagine's second pass or the
# planner's scoring (0 of its masks: results/mask_coverage). So a share of the masks is drawn
# from the task masks the library asks the one model, each task weighted by its number of indices so every
# inference mask gets an equal part: at T=4, 26 masks at COVERING_SHARE / 26 each (>= 1 % from 0.26 up).
# 0.3, chosen on held-out error (results/coverage_effect: HalfCheetah medium, 2,500 steps, 3 seeds each of 0, 0.3,
# 0.5, 0.7): forward-dynamics error rises with the share (5.57, 5.63, 5.74, 6.00; 0.7 is 4.6 % worse than 0.5,
# interval excluding 1) while inverse dynamics, BC and RCBC tie at every share; 0.3 is the smallest share that
# gives every inference mask >= 1 %, and ties the reference's masks alone on every capability.
COVERING_SHARE = 0.3
COVERING_TASKS = INFERENCE_TASKS
# scale -> model (width, heads, encoder layers, MLP baseline's hidden sizes), train (batch, steps, warmup), and what
# else differs from the released recipe (full).
SCALES = {
  "full": dict(model=(512, 4, 2, (1024, 1024)), train=(2048, 140_000, 40_000)),
  "small": dict(model=(64, 4, 2, (256, 256)), train=(128, 3000, 300), learning_rate=3e-4, eval_windows=1024),
  "smoke": dict(model=(32, 2, 1, (32, 32)), train=(16, 4, 1), eval_windows=32),
}


def specialist_task(model: str) -> str | None:
  """The capability a MODEL is a specialist in (transformer, window MLP or the paper's MLP), else None."""
  task = model.removeprefix("paper_").removeprefix("mlp_")
  return task if task in CAPABILITIES else None


def is_mlp(model: str) -> bool:
  """Whether a MODEL is an MLP baseline (the window MLP or the paper's fixed-input one)."""
  return specialist_task(model) is not None and "mlp_" in model


def covering_masks(window: int, share: float = COVERING_SHARE) -> tuple[tuple[str, ...], tuple[float, ...]]:
  """The covering recipe's (tasks, weights): random_autoregressive at 1 - share, the task masks at share."""
  counts = [len(masks.index_range(t, window) or [None]) for t in COVERING_TASKS]
  return ("random_autoregressive", *COVERING_TASKS), (1 - share, *(share * n / sum(counts) for n in counts))


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  levels = ("medium", *(lvl for lvl in LEVELS if lvl != "medium"))
  v = base.variants(arg, scale=tuple(SCALES), env=tuple(ENVS), level=levels, model=MODELS)
  scale, model = v["scale"], v["model"]
  c = base.get_config()
  c.data.source = "minari"
  c.data.dataset_id = dataset_id(v["env"], v["level"], scale)  # made by python -m experiments.make_dataset locomotion
  c.data.returns = "average"  # MTM: average reward over the steps left
  c.data.validation_fraction = 0.05

  c.window = 4

  c.model.dropout = 0.1
  # "torch" (PyTorch's, as the reference MTM): at 2,500 steps it cut held-out errors by 19-37 % on every
  # capability against flax's LeCun normal (issue 17, benchmarks/parity_reference.py --changes=baseline,flax_init).
  c.model.param_init = "torch"

  # random_autoregressive mixed with the task masks the library asks (covering_masks); mtm_reference: the first alone
  c.masks.tasks, c.masks.weights = covering_masks(c.window)
  c.masks.task_params.random_autoregressive = ml_collections.ConfigDict()
  c.masks.task_params.random_autoregressive.keep_ratios = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)
  c.masks.task_params.random_autoregressive.mode_weights = (0.2, 0.1, 0.7)  # states, returns, actions
  c.masks.task_params.random_autoregressive.ratio_per_modality = False  # True: a keep ratio per modality (reference)
  c.masks.task_params.random_autoregressive.ensure_visible = True  # reveal a token where a mask leaves none visible

  c.train.regime = "multi_task"
  c.train.learning_rate = 1e-4
  c.train.final_lr_fraction = 0.0  # cosine to zero
  c.train.weight_decay = 0.005
  c.train.grad_clip = 0.0  # MTM does not clip
  c.train.log_every = 500
  c.train.checkpoint_every = 10_000
  c.train.keep_checkpoints = 2

  c.eval.tasks = ("bc", "rcbc", "forward_dynamics", "inverse_dynamics")  # validation-loss tasks
  c.eval.num_windows = 2048
  c.eval.batch_size = 512

  if model == "mtm_reference":  # the reference MTM's masks: random-autoregressive alone
    c.train.regime, c.masks.tasks, c.masks.weights = "random_autoregressive", ("random_autoregressive",), ()
  elif model == "mtm_heteromodal":  # the reference's heteromodal arm: its masks and its inverse-dynamics mask
    # (every state visible), one of the two drawn uniformly (it draws per batch, we per sample); its control is
    # rcbc_imagine, whose second pass is that mask at a[0] (coverage.choose asks it so)
    c.masks.tasks, c.masks.weights = ("random_autoregressive", "inverse_dynamics"), (0.5, 0.5)
    c.masks.task_params.inverse_dynamics = ml_collections.ConfigDict(REFERENCE_ASKED["inverse_dynamics"])
  elif model == "reference_forward_dynamics":  # the reference's forward-dynamics specialist, as it trains: on its
    # forward-dynamics mask (masks.reference_forward_dynamics), with the loss on every token
    c.train.regime, c.masks.tasks, c.masks.weights = "single_task", (model,), ()
  elif model != "mtm":  # a specialist: the same network (or the MLP baseline) trained on one task's mask, scored
    task = specialist_task(model)  # on that task's targets alone
    c.model.kind = "mlp" if is_mlp(model) else "transformer"
    c.train.regime, c.masks.tasks, c.train.loss_on = "single_task", (task,), "hidden"
    c.masks.weights = ()
    if model.startswith("paper_"):  # the paper's MLPs see fixed inputs: BC s_t, RCBC (s_t, R_t), inverse dynamics
      c.masks.task_params[task] = ml_collections.ConfigDict(REFERENCE_ASKED[task])  # every state of the window

  size = SCALES[scale]
  c.model.width, c.model.num_heads, c.model.encoder_layers, c.model.mlp_hidden = size["model"]
  c.train.batch_size, c.train.num_steps, c.train.warmup_steps = size["train"]
  c.train.learning_rate = size.get("learning_rate", c.train.learning_rate)
  c.eval.num_windows = size.get("eval_windows", c.eval.num_windows)
  if scale == "smoke":
    c.data.num_validation = 2
    c.train.log_every, c.train.checkpoint_every = 2, 4
  elif scale == "small":
    c.train.log_every, c.train.checkpoint_every = 100, 1_000
  return c
