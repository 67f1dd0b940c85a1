"""The data-parallel training loop: regimes, resumption, checkpoints, logs, and the held-out evaluations the config
asks for (``eval.every``)."""

from __future__ import annotations

import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from tqdm.auto import tqdm

from mtm_jax import checkpoint, coverage, distributed, experiment, runtime
from mtm_jax import optimizer as optim
from mtm_jax.data import windows
from mtm_jax.data.splits import prepare_data, training_split
from mtm_jax.errors import UserError
from mtm_jax.eval.task_losses import as_metrics, make_scorer, task_losses
from mtm_jax.experiment import Experiment
from mtm_jax.model import build_model, dummy_inputs
from mtm_jax.run_log import EVAL, RunLog
from mtm_jax.spec import DatasetSpec
from mtm_jax.train.state import TrainState, make_mesh
from mtm_jax.train.step import encoder_packing, make_train_step, step_key


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
  spec, train_data, val_data, stats = prepare_data(exp.data, exp.window, split)
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
    evaluate = _evaluator(exp, model, spec, val_data)
    tensorboard = exp.train.tensorboard
    with (
      stops,
      RunLog(workdir, resume_from=resume_from, tensorboard=tensorboard, enabled=main) as log,
      RunLog(workdir, EVAL, tensorboard=tensorboard, enabled=main and evaluate is not None) as eval_log,
    ):
      for step in range(start, num_steps):
        data_key, model_key = jax.random.split(step_key(train_key, step))
        state, metrics = train_step(state, sample(train_data, data_key), model_key)
        if pending is not None:
          _log(log, bar, *pending, lr, exp.train.max_nonfinite_steps)
          pending = None
        done = step + 1
        if done % exp.train.log_every == 0 or done == num_steps:
          pending = (done, metrics)
        stopping = stops.received is not None  # read once: a signal between two reads would skip the save
        if done % exp.train.checkpoint_every == 0 or done == num_steps or stopping:
          checkpoint.save(mngr, done, state.params, state.opt_state, exp)
        if evaluate and (done % exp.eval.every == 0 or done == num_steps):
          eval_log.write(done, evaluate(state.params))
        bar.update(1)
        if stopping:
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


def _evaluator(exp: Experiment, model, spec, val_data):
  """``evaluate(params) -> metrics``: held-out task losses (``eval.tasks``) as the EVAL log's scalars, as
  ``python -m experiments.evaluate`` writes them; None when ``eval.every`` is 0 or nothing is held out."""
  if not exp.eval.every or val_data.num_windows == 0:
    return None
  score = make_scorer(model, spec)  # one compile for every evaluation of the run

  def evaluate(params):
    # On this process's own copy of the replicated parameters: an evaluation is local, no collective waits on
    # the other processes (each scores the same windows; the main one writes).
    local = jax.tree_util.tree_map(lambda x: x.addressable_data(0), params)
    return as_metrics(task_losses(model, local, val_data, spec, exp, score=score))

  return evaluate


def _log(log: RunLog, bar, step, metrics, lr, max_nonfinite) -> None:
  values = {k: float(v) for k, v in jax.device_get(metrics).items()}
  log.write(step, {"lr": float(lr(step - 1)), **values})
  bar.set_postfix(loss=f"{values['loss']:.4g}", refresh=False)
  if values["nonfinite_streak"] >= max_nonfinite:
    raise FloatingPointError(
      f"loss or gradients were NaN/Inf for {int(values['nonfinite_streak'])} steps in a row (up to step {step}); "
      "those updates were skipped and the last checkpoint is intact: lower train.learning_rate or set train.grad_clip"
    )
