"""Orbax checkpoints: a training run's params, optimizer state, step, config and spec, or any other
run's state pytree with JSON metadata (``save_state`` / ``restore_state``, used by the SAC agent).

Orbax writes each step into a temporary directory and renames it only once complete, so a run
killed mid-save leaves the previous good checkpoint in place. Nothing here ever deletes a step
except Orbax's own ``max_to_keep`` rotation after a newer save has finished.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from mtm_jax import experiment, runtime
from mtm_jax.errors import UserError
from mtm_jax.experiment import Experiment
from mtm_jax.spec import DatasetSpec


@dataclasses.dataclass
class Checkpoint:
  """What ``load_checkpoint`` returns."""

  params: Any
  config: Experiment  # with its spec
  spec: DatasetSpec
  step: int


def checkpoint_dir(workdir: str) -> str:
  return os.path.join(os.path.abspath(workdir), "checkpoints")


class _DropReadOnlyNotice(logging.Filter):
  """Orbax logs a warning each time a read-only manager opens; reading a checkpoint is not worth one."""

  def filter(self, record: logging.LogRecord) -> bool:
    return "Given directory is read only" not in record.getMessage()


logging.getLogger("absl").addFilter(_DropReadOnlyNotice())


MODEL_ITEMS = ("params", "opt_state", "meta")
STATE_ITEMS = ("state", "meta")


def manager(workdir: str, max_to_keep: int = 3, read_only: bool = False, items=MODEL_ITEMS) -> ocp.CheckpointManager:
  if read_only:  # Orbax ignores (and warns about) rotation settings on a read-only manager
    options = ocp.CheckpointManagerOptions(read_only=True, create=False, save_interval_steps=0, max_to_keep=None)
  else:
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep)
  # Handlers named up front, so item_metadata can read a step's tree before restoring it.
  handlers = {name: ocp.JsonCheckpointHandler() if name == "meta" else ocp.StandardCheckpointHandler() for name in items}
  return ocp.CheckpointManager(checkpoint_dir(workdir), options=options, item_handlers=handlers)


def save(mngr: ocp.CheckpointManager, step: int, params, opt_state, exp: Experiment) -> None:
  meta = {"step": int(step), "config": exp.to_dict(), "spec": exp.require_spec().to_dict()}
  mngr.save(
    int(step),
    args=ocp.args.Composite(
      params=ocp.args.StandardSave(params),
      opt_state=ocp.args.StandardSave(opt_state),
      meta=ocp.args.JsonSave(meta),
    ),
  )


def close(mngr: ocp.CheckpointManager) -> None:
  """Waits for in-flight writes and stops the manager's threads; an unfinished write never replaces a good step."""
  try:
    mngr.wait_until_finished()
  except Exception as err:
    if not runtime.is_disk_full(err):
      mngr.close()
    # A full disk fails one write while TensorStore's others still run: closing now would tear down the event
    # loop under their callbacks (a traceback each). The step stays unfinished (never replaces a good one);
    # the manager's threads end with the process.
    raise
  mngr.close()


def save_state(mngr: ocp.CheckpointManager, step: int, state, meta: dict) -> None:
  """Saves a pytree of arrays (a manager made with ``items=STATE_ITEMS``) beside JSON metadata."""
  mngr.save(int(step), args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)))


def restore_state(mngr: ocp.CheckpointManager, step: int, abstract_state):
  """(state, meta) of a ``save_state`` step, onto the structure and shardings of ``abstract_state``."""
  try:
    restored = mngr.restore(
      step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore())
    )
  except Exception as err:  # see restore()
    raise _unreadable(str(mngr.directory), step, err, mngr) from err
  return restored["state"], restored["meta"]


def _unreadable(path: str, step: int, err: Exception, mngr) -> UserError:
  others = [s for s in mngr.all_steps() if s != step]
  hint = f"earlier checkpoints {others} are untouched; " if others else ""
  return UserError(
    f"checkpoint step {step} in {path} is unreadable ({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
    f"{hint}move that step directory aside to resume from an earlier one"
  )


def latest_step(workdir: str) -> int | None:
  if not os.path.isdir(checkpoint_dir(workdir)):
    return None
  return manager(workdir, read_only=True).latest_step()


def restore(mngr: ocp.CheckpointManager, step: int, abstract_params, abstract_opt_state):
  """Restores params and optimizer state onto the shardings of the abstract targets."""
  try:
    restored = mngr.restore(
      step,
      args=ocp.args.Composite(
        params=ocp.args.StandardRestore(abstract_params),
        opt_state=ocp.args.StandardRestore(abstract_opt_state),
        meta=ocp.args.JsonRestore(),
      ),
    )
  except Exception as err:  # Orbax raises many types for damaged files; all mean the same to a user.
    raise _unreadable(str(mngr.directory), step, err, mngr) from err
  return restored["params"], restored["opt_state"], restored["meta"]


def load_checkpoint(workdir: str, step: int | None = None) -> Checkpoint:
  """Params (on this process's first device, with normalisation statistics), config, spec and step of a checkpoint."""
  path = checkpoint_dir(workdir)
  if not os.path.isdir(path):
    raise UserError(f"no checkpoints in {workdir!r} (expected {path}); train first with python -m experiments.train")
  mngr = manager(workdir, read_only=True)
  step = mngr.latest_step() if step is None else step
  if step is None:
    raise UserError(f"no finished checkpoint in {path}; train first with python -m experiments.train")
  if step not in mngr.all_steps():
    raise UserError(f"no checkpoint at step {step} in {path}; available steps: {list(mngr.all_steps())}")
  try:
    # Onto this process's first device, whatever mesh saved it (a run trained on 8 GPUs loads on a laptop).
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    target = jax.tree_util.tree_map(
      lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), mngr.item_metadata(step)["params"].tree
    )
    restored = mngr.restore(step, args=ocp.args.Composite(params=ocp.args.StandardRestore(target), meta=ocp.args.JsonRestore()))
  except Exception as err:  # see restore()
    raise _unreadable(path, step, err, mngr) from err
  meta = restored["meta"]
  spec = DatasetSpec.from_dict(meta["spec"])
  config = dataclasses.replace(experiment.parse(meta["config"], training=False), spec=spec)
  return Checkpoint(params=restored["params"], config=config, spec=spec, step=int(meta["step"]))
