"""Training: a pure, jitted ``train_step``, the data-parallel loop, regimes and resumption."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from tqdm.auto import tqdm

from mtm_jax import checkpoint, coverage, data, distributed, experiment, masks, packing, runtime
from mtm_jax import optimizer as optim
from mtm_jax.data import windows
from mtm_jax.errors import UserError
from mtm_jax.experiment import DataConfig, Experiment
from mtm_jax.loss import masked_loss, scored_tokens, token_losses
from mtm_jax.model import build_model, dummy_inputs, token_visibility
from mtm_jax.normalization import compute_stats, normalize
from mtm_jax.predict import apply_normalized
from mtm_jax.run_log import RunLog
from mtm_jax.spec import ACTIONS, DatasetSpec


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any  # {"model": trainable, "norm": normalisation statistics (not trained)}
  opt_state: Any
  nonfinite_streak: jax.Array  # consecutive skipped (NaN/Inf) steps
  encoder_overflows: jax.Array  # steps (since this process started) whose visible tokens overflowed the packing

  @classmethod
  def create(cls, params, optimizer) -> TrainState:
    """Step 0: optimizer state over params["model"]; each counter its own buffer (donation forbids sharing)."""
    zeros = lambda: jnp.zeros((), jnp.int32)  # noqa: E731
    return cls(
      step=zeros(), params=params, opt_state=optimizer.init(params["model"]), nonfinite_streak=zeros(), encoder_overflows=zeros()
    )


def make_mesh(num_devices: int = 0) -> jax.sharding.Mesh:
  devices = jax.devices()
  n = num_devices or len(devices)
  if n > len(devices):
    raise UserError(f"train.num_devices={n} but only {len(devices)} devices are visible")
  # Auto axes: XLA's partitioner places the gathers and reductions (Explicit axes would demand
  # out-shardings on every embedding lookup).
  return jax.make_mesh((n,), ("data",), axis_types=(jax.sharding.AxisType.Auto,), devices=devices[:n])


def encoder_packing(model, spec: DatasetSpec, sampler: Callable, batch_size: int, groups: int, key: jax.Array):
  """``(groups, capacities)`` for the model's ``pack`` argument, measured on the sampler's masks;
  None where nothing can be packed (the MLP baseline, or one encoder over all tokens) or where a device's
  batch is too small for packing to pay (its gathers and extra compiled branches cost more than it saves)."""
  cfg = model.config
  if cfg.kind != "transformer" or cfg.decoder_layers == 0 or batch_size // groups < packing.MIN_GROUP:
    return None
  counts = packing.measure(
    lambda v: token_visibility(spec, cfg.token_layout, v), lambda k, n: masks.sample_batch(sampler, k, n)[0], key
  )
  return groups, counts.tiers(batch_size // groups)


def make_train_step(
  model,
  spec: DatasetSpec,
  sampler: Callable,
  optimizer,
  loss_on: str,
  pack: tuple[int, int] | None = None,
  mask_granularity: str = "sample",
) -> Callable:
  """A pure ``train_step(state, batch, key) -> (state, metrics)``; masks are drawn inside it.

  pack: ``encoder_packing``'s result, or None for the dense encoder (the two compute the same outputs).
  mask_granularity: ``masks.sample_batch``'s (a mask per sample, or one per batch).
  """
  options = {} if pack is None else {"pack": pack}

  def loss_fn(model_params, norm, batch, visible, target, dropout_key):
    traj = batch["traj"]
    outputs = apply_normalized(
      model, {"model": model_params, "norm": norm}, traj, visible, deterministic=False, rngs={"dropout": dropout_key}, **options
    )
    per_token = token_losses(outputs, normalize(traj, norm), spec)
    return masked_loss(per_token, scored_tokens(visible, target, batch["present"], loss_on))

  traces = 0

  def train_step(state: TrainState, batch: dict, key: jax.Array):
    # Like chex.assert_max_traces(n=1), but per step function: chex counts per code location, so
    # two runs in one process (tests, sweeps) would trip it.
    nonlocal traces
    traces += 1
    if traces > 1:
      raise AssertionError("train_step was traced twice: an input changed shape or dtype between steps")
    mask_key, dropout_key = jax.random.split(key)
    batch_size = next(iter(batch["present"].values())).shape[0]
    visible, target = masks.sample_batch(sampler, mask_key, batch_size, mask_granularity)
    visible, target = masks.apply_presence(visible, target, batch["present"])
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, per_modality), grads = grad_fn(state.params["model"], state.params["norm"], batch, visible, target, dropout_key)
    grad_norm = optax.global_norm(grads)
    finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)

    def update(grads, opt_state, params):
      updates, opt_state = optimizer.update(grads, opt_state, params)
      return optax.apply_updates(params, updates), opt_state

    # A non-finite step is skipped: parameters and optimizer state stay as they were. A cond, not a
    # where over every leaf: the where read both trees and copied the donated ones (~5 % of a CPU step).
    new_model, opt_state = jax.lax.cond(
      finite, update, lambda _, opt_state, params: (params, opt_state), grads, state.opt_state, state.params["model"]
    )
    overflowed = 0  # past the loosest tier: the dense fallback ran
    if pack is not None:
      vis_BxN = token_visibility(spec, model.config.token_layout, visible)
      overflowed = ~packing.fits(vis_BxN, pack[0], max(packing.tiers_of(pack[1])))
    new_state = TrainState(
      step=state.step + 1,
      params={"model": new_model, "norm": state.params["norm"]},
      opt_state=opt_state,
      nonfinite_streak=jnp.where(finite, 0, state.nonfinite_streak + 1),
      encoder_overflows=state.encoder_overflows + overflowed,
    )
    metrics = {
      "loss": loss,
      "grad_norm": grad_norm,
      "nonfinite_streak": new_state.nonfinite_streak,
      "encoder_overflows": new_state.encoder_overflows,
    }
    metrics.update({f"loss/{k}": v for k, v in per_modality.items()})
    return new_state, metrics

  return train_step


def step_key(base_key: jax.Array, step: int) -> jax.Array:
  return jax.random.fold_in(base_key, step)


def training_split(data_config: DataConfig):
  """(spec, training episodes, held-out episodes, labelled ids) of a data config.

  Training episodes outside the labelled ids (``labelled_episodes``) lose their actions (heteromodal
  training) or, with ``unlabelled="drop"``, are left out (a model of the labelled ones alone). The held-out
  ones keep theirs, to be scored on.
  """
  spec, episodes = data.load(data_config)
  train_eps, val_eps = windows.split_episodes(
    episodes, data_config.validation_fraction, data_config.num_validation, data_config.num_train
  )
  labelled = labelled_episodes(data_config, train_eps)
  keep = set(labelled)
  if data_config.unlabelled == "drop":
    train_eps = [e for i, e in enumerate(train_eps) if i in keep]
  else:
    train_eps = [e if i in keep else {k: v for k, v in e.items() if k != ACTIONS} for i, e in enumerate(train_eps)]
  return spec, train_eps, val_eps, labelled


def prepare_data(data_config: DataConfig, window: int, split=None):
  """(spec, train WindowData, validation WindowData, normalisation stats) of a data config; ``split``: its
  ``training_split``, where the caller already has it."""
  spec, train_eps, val_eps, _ = split or training_split(data_config)
  stats = compute_stats(windows.real_steps(train_eps, spec), spec, data_config.unscaled_below_std)
  train = windows.build(train_eps, spec, window, data_config.labelled_share)
  return spec, train, windows.build(val_eps, spec, window), stats


def labelled_episodes(data_config: DataConfig, train_episodes) -> tuple[int, ...]:
  """The training episodes (indices) that keep their actions: ``data.labelled_episodes`` if given, else a
  ``data.action_fraction`` share of those that have actions, drawn with ``data.action_seed``."""
  has_actions = [i for i, e in enumerate(train_episodes) if ACTIONS in e]
  if data_config.labelled_episodes:
    beyond = [i for i in data_config.labelled_episodes if i >= len(train_episodes)]
    if beyond:
      raise UserError(f"data.labelled_episodes holds {beyond[:5]}, beyond the {len(train_episodes)} training episodes")
    return tuple(sorted(set(data_config.labelled_episodes) & set(has_actions)))
  if data_config.action_fraction >= 1:
    return tuple(has_actions)
  count = max(1, round(data_config.action_fraction * len(has_actions)))
  rng = np.random.default_rng(data_config.action_seed)
  return tuple(sorted(int(i) for i in rng.choice(has_actions, size=count, replace=False)))


def _initial_params(exp: Experiment, model, spec, stats, key):
  if exp.train.regime == "finetune":
    pretrained = checkpoint.load_checkpoint(exp.train.init_from)
    if pretrained.spec != spec:
      raise UserError(f"init_from {exp.train.init_from!r} was trained on a different dataset spec")
    if pretrained.config.model != exp.model:
      raise UserError(f"init_from {exp.train.init_from!r} has a different model config; finetune keeps the architecture")
    return jax.tree_util.tree_map(jnp.asarray, pretrained.params)
  return _fresh_params(exp, model, spec, stats, key)


def _fresh_params(exp: Experiment, model, spec, stats, key):
  traj, visible = dummy_inputs(spec, exp.window, 1, exp.model.max_horizon)
  # jitted: run eagerly, flax's init compiles each of its hundreds of small ops on its own (~1 s per run)
  return {"model": jax.jit(model.init)(key, traj, visible), "norm": jax.tree_util.tree_map(jnp.asarray, stats)}


def train_and_evaluate(config: ml_collections.ConfigDict | Experiment, workdir: str) -> TrainState:
  """Trains (resuming from the newest checkpoint in ``workdir``) and returns the final state."""
  exp = experiment.parse(config)
  runtime.check_workdir(workdir)
  lock = runtime.lock_workdir(workdir) if distributed.is_main() else None  # one live run per workdir
  try:
    with runtime.disk_full_in_one_line(workdir, lambda: checkpoint.latest_step(workdir)):
      return _train(exp, workdir)
  finally:
    if lock is not None:
      lock.close()


def _train(exp: Experiment, workdir: str) -> TrainState:
  mesh = make_mesh(exp.train.num_devices)
  n_dev = mesh.devices.size
  if exp.train.batch_size % n_dev:
    raise UserError(f"train.batch_size={exp.train.batch_size} must be divisible by the {n_dev} devices in the mesh")
  replicated, batch_sharding = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))

  split = training_split(exp.data)
  spec, train_data, _, stats = prepare_data(exp.data, exp.window, split)
  exp = dataclasses.replace(exp, spec=spec)
  if exp.data.action_fraction < 1 and not exp.data.labelled_episodes:  # the drawn episodes, in the run's config
    exp = dataclasses.replace(exp, data=dataclasses.replace(exp.data, labelled_episodes=split[3]))
  model = build_model(exp.model, spec, exp.window)
  sampler = exp.masks.sampler(spec, exp.window, *exp.training_tasks())
  optimizer = optim.make(exp.train)
  base_key = jax.random.key(exp.seed)
  init_key, train_key = jax.random.split(base_key)
  # One mask per batch makes every sample's visible count equal: a capacity measured on per-sample masks
  # would overflow on most batches, so those runs encode densely.
  per_sample = exp.train.mask_granularity == "sample"
  pack = (
    encoder_packing(model, spec, sampler, exp.train.batch_size, n_dev, jax.random.fold_in(base_key, 1))
    if exp.train.pack_encoder and per_sample
    else None
  )

  create = lambda params: TrainState.create(params, optimizer)  # noqa: E731
  train_data = distributed.replicate(train_data, replicated)

  mngr = checkpoint.manager(workdir, exp.train.keep_checkpoints)
  bar = None
  try:
    start = mngr.latest_step()
    resume_from = start
    if start is not None:  # the checkpoint overwrites every initial value: only their shapes are needed
      # (a finetuned run keeps its architecture, so a fresh init has the same shapes as its pretrained start)
      shapes = jax.eval_shape(lambda key: create(_fresh_params(exp, model, spec, stats, key)), init_key)
      abstract = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=replicated), shapes)
      params, opt_state, meta = checkpoint.restore(mngr, start, abstract.params, abstract.opt_state)
      saved = experiment.parse(meta["config"], training=False)
      if DatasetSpec.from_dict(meta["spec"]) != spec or saved.model != exp.model:
        raise UserError(f"workdir {workdir!r} holds a run with another dataset or model; use a fresh --workdir")
      counters = distributed.replicate(
        {"step": np.int32(start), "nonfinite_streak": np.int32(0), "encoder_overflows": np.int32(0)}, replicated
      )
      state = TrainState(params=params, opt_state=opt_state, **counters)
    else:
      start = 0
      state = distributed.replicate(jax.jit(create)(_initial_params(exp, model, spec, stats, init_key)), replicated)
    main = distributed.is_main()  # in a multi-process run, process 0 alone writes files and progress
    if main:
      with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump(exp.to_dict(), f, indent=2)
      coverage.write(exp, workdir)  # how often training draws each mask the model will be asked

    B, T = exp.train.batch_size, exp.window
    sample = jax.jit(lambda d, k: windows.sample(d, k, B, T), out_shardings=batch_sharding)
    train_step = jax.jit(
      make_train_step(model, spec, sampler, optimizer, exp.train.loss_on, pack, exp.train.mask_granularity),
      in_shardings=(replicated, batch_sharding, replicated),
      out_shardings=(replicated, replicated),
      donate_argnums=(0,),
    )
    lr = optim.schedule(exp.train)
    num_steps = exp.train.num_steps
    pending = None  # (step, metrics) read one step late, so the host never stalls the device
    bar = tqdm(total=num_steps, initial=start, unit="step", dynamic_ncols=True, mininterval=1.0, desc="train", disable=not main)
    stops = runtime.StopRequests(enabled=jax.process_count() == 1)
    done = start
    with stops, RunLog(workdir, resume_from=resume_from, tensorboard=exp.train.tensorboard, enabled=main) as log:
      for step in range(start, num_steps):
        data_key, model_key = jax.random.split(step_key(train_key, step))
        state, metrics = train_step(state, sample(train_data, data_key), model_key)
        if pending is not None:
          _log(log, bar, *pending, lr, exp.train.max_nonfinite_steps)
          pending = None
        done = step + 1
        if done % exp.train.log_every == 0 or done == num_steps:
          pending = (done, metrics)
        if done % exp.train.checkpoint_every == 0 or done == num_steps or stops.received:
          checkpoint.save(mngr, done, state.params, state.opt_state, exp)
        bar.update(1)
        if stops.received:
          break
      if pending is not None:
        _log(log, bar, *pending, lr, exp.train.max_nonfinite_steps)
    if done < num_steps:
      raise runtime.Stopped(
        f"stopped by {stops.received} at step {done} of {num_steps}; a checkpoint of this step is "
        "saved: rerun the same command to resume"
      )
  finally:  # every exit, error or not: finish or abandon in-flight writes, so no Orbax thread outlives the run
    if bar is not None:
      bar.close()  # before the error line, which must be the last one printed
    checkpoint.close(mngr)
  return state


def _log(log: RunLog, bar, step, metrics, lr, max_nonfinite) -> None:
  values = {k: float(v) for k, v in jax.device_get(metrics).items()}
  log.write(step, {"lr": float(lr(step - 1)), **values})
  bar.set_postfix(loss=f"{values['loss']:.4g}", refresh=False)
  if values["nonfinite_streak"] >= max_nonfinite:
    raise FloatingPointError(
      f"loss or gradients were NaN/Inf for {int(values['nonfinite_streak'])} steps in a row (up to step {step}); "
      "those updates were skipped and the last checkpoint is intact: lower train.learning_rate or set train.grad_clip"
    )
