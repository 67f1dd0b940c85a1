"""An experiment config checked at the boundary and frozen: ``parse(config) -> Experiment``.

Library functions take the parts they need (``exp.model``, ``exp.masks``, ``exp.train``, ``exp.data``,
``exp.eval``), never the ConfigDict. Every violation is one line naming the key, the value and what is
allowed (``ConfigError``). Keys a config leaves out take the defaults below, so configs stored by older
versions still load; a key no section knows is an error (a typo would otherwise be ignored).
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Mapping
from typing import Any

import jax

from mtm_jax import masks
from mtm_jax.data import SOURCES
from mtm_jax.data.minari_data import ON_NONFINITE, RETURN_KINDS
from mtm_jax.errors import UserError
from mtm_jax.model import ModelConfig, model_problems
from mtm_jax.spec import ACTIONS, CONTINUOUS, RETURNS, STATES, DatasetSpec, ModalitySpec

UNLABELLED = ("state_only", "drop")  # what training makes of an episode without actions
REGIMES = ("single_task", "multi_task", "random", "random_autoregressive", "finetune")
# Every role a task can use, so a mask generator can be tried on the config's window and parameters.
_ALL_ROLES = DatasetSpec(
  (ModalitySpec(STATES, CONTINUOUS, 1), ModalitySpec(ACTIONS, CONTINUOUS, 1), ModalitySpec(RETURNS, CONTINUOUS, 1))
)


class ConfigError(UserError):
  """Every violation of a config, one per line."""


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Where the episodes come from and which are held out; see configs/ for field comments."""

  source: str = "sinusoid"
  dataset_id: str = ""
  download: bool = False
  include_rewards: bool = False
  return_discount: float = 1.0
  returns: str = "sum"  # configs stored before this option existed used sums
  on_nonfinite: str = "error"
  num_episodes: int = 2000
  episode_length: int = 32
  noise: float = 0.03
  seed: int = 0
  validation_fraction: float = 0.1
  num_validation: int = 0
  num_train: int = 0
  train_steps: int = 0
  unscaled_below_std: float = 0.0
  action_fraction: float = 1.0
  action_seed: int = 0
  labelled_episodes: tuple[int, ...] = ()
  unlabelled: str = "state_only"
  # least share of training windows drawn from labelled episodes when some lack actions (windows.build); the
  # reference MTM alternates labelled and state-only batches, 0.5; 0 draws every window alike
  labelled_share: float = 0.5


@dataclasses.dataclass(frozen=True)
class MaskConfig:
  """The mask tasks and their parameters (``task_params[task]``: keyword arguments of the task)."""

  tasks: tuple[str, ...] = ("random_autoregressive",)
  weights: tuple[float, ...] = ()
  return_policy: str = "all"
  task_params: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

  def params(self, task: str) -> dict:
    return dict(self.task_params.get(task, {}))

  def sampler(self, spec: DatasetSpec, window: int, tasks, weights=None):
    """``masks.make_sampler`` over ``tasks`` with this config's parameters and return policy."""
    return masks.make_sampler(
      spec, window, list(tasks), weights=weights, return_policy=self.return_policy, task_params={t: self.params(t) for t in tasks}
    )


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """The optimisation, regime, logging and checkpointing of a run."""

  regime: str = "random_autoregressive"
  init_from: str = ""
  batch_size: int = 32
  num_steps: int = 2000
  learning_rate: float = 1e-3
  warmup_steps: int = 100
  final_lr_fraction: float = 0.1
  weight_decay: float = 0.01
  grad_clip: float = 1.0
  loss_on: str = "all"
  mask_granularity: str = "sample"
  log_every: int = 50
  tensorboard: bool = True
  checkpoint_every: int = 500
  keep_checkpoints: int = 3
  max_nonfinite_steps: int = 20
  num_devices: int = 0
  pack_encoder: bool = True


@dataclasses.dataclass(frozen=True)
class EvalConfig:
  """Held-out scoring: which tasks, how many windows, which masks, which return target for rollouts."""

  tasks: tuple[str, ...] = ()
  num_windows: int = 512
  batch_size: int = 256
  seed: int = 1234
  target_rule: str = "start:1.0"
  every: int = 0  # >0: training scores ``tasks`` on held-out windows every this many steps and at its end


SECTIONS = {"model": ModelConfig, "masks": MaskConfig, "train": TrainConfig, "data": DataConfig, "eval": EvalConfig}


@dataclasses.dataclass(frozen=True)
class Experiment:
  """A checked experiment; ``spec`` is set once the data is known (training, or a loaded checkpoint)."""

  seed: int = 0
  window: int = 16
  model: ModelConfig = ModelConfig()
  masks: MaskConfig = MaskConfig()
  train: TrainConfig = TrainConfig()
  data: DataConfig = DataConfig()
  eval: EvalConfig = EvalConfig()
  spec: DatasetSpec | None = None

  def training_tasks(self) -> tuple[list[str], list[float] | None]:
    """The mask tasks the regime trains on and their weights."""
    return _regime_tasks(self.train.regime, self.masks.tasks, self.masks.weights)

  def require_spec(self) -> DatasetSpec:
    if self.spec is None:
      raise ValueError("config has no dataset spec; use the config stored with a checkpoint (load_checkpoint)")
    return self.spec

  def to_dict(self) -> dict:
    """Plain JSON-ready values (``parse`` reads them back)."""
    out = {"seed": self.seed, "window": self.window}
    for name in SECTIONS:
      out[name] = dataclasses.asdict(getattr(self, name))
    out["masks"]["task_params"] = {t: dict(p) for t, p in self.masks.task_params.items()}
    if self.spec is not None:
      out["spec"] = self.spec.to_dict()
    return out


def _regime_tasks(regime: str, tasks, weights) -> tuple[list[str], list[float] | None]:
  if regime in ("random", "random_autoregressive"):
    return [regime], None
  return list(tasks), list(weights) or None


def _plain(value):
  """ConfigDicts become dicts and lists tuples, so frozen fields compare and hash by value."""
  if hasattr(value, "to_dict"):
    value = value.to_dict()
  if isinstance(value, Mapping):
    return {k: _plain(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return tuple(_plain(v) for v in value)
  return value


def parse(config, *, training: bool = True) -> Experiment:
  """The Experiment of a ConfigDict (or plain dict, or Experiment); raises ConfigError listing every violation.

  ``training``: also check what only a training run needs (finetune's ``init_from`` on this machine);
  a stored config is read back with ``training=False``.
  """
  raw = _plain(config.to_dict() if isinstance(config, Experiment) else config)
  problems = []
  for key, value in raw.items():
    if key not in SECTIONS and key not in ("seed", "window", "spec"):
      problems.append(f"{key}={value!r}: unknown key; a config has seed, window, spec and {list(SECTIONS)}")
  full = {"seed": raw.get("seed", 0), "window": raw.get("window", Experiment.window)}
  for name, cls in SECTIONS.items():
    given = raw.get(name) or {}
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in given:
      if key not in known:
        problems.append(f"{name}.{key}={given[key]!r}: unknown key; {name} has {sorted(known)}")
    defaults = dataclasses.asdict(cls())
    full[name] = {key: given.get(key, defaults[key]) for key in known}
  if problems:
    raise ConfigError("invalid config:\n" + "\n".join(problems))
  problems = _problems(full, training)
  if problems:
    raise ConfigError("invalid config:\n" + "\n".join(problems))
  sections = {name: cls(**full[name]) for name, cls in SECTIONS.items()}
  spec = DatasetSpec.from_dict(raw["spec"]) if raw.get("spec") else None
  return Experiment(seed=full["seed"], window=full["window"], spec=spec, **sections)


def _get(config: dict, key: str):
  node = config
  for part in key.split("."):
    node = node.get(part) if isinstance(node, Mapping) else None
  return node


def _number(value, integer: bool) -> bool:
  kind = numbers.Integral if integer else numbers.Real
  return isinstance(value, kind) and not isinstance(value, bool)


def _problems(config: dict, training: bool) -> list[str]:
  problems = [] + model_problems(config["model"])

  def need(key: str, ok: bool, allowed: str) -> None:
    if not ok:
      problems.append(f"{key}={_get(config, key)!r}: {allowed}")

  def positive(key, integer=True):
    value = _get(config, key)
    need(key, _number(value, integer) and value > 0, f"must be a positive {'integer' if integer else 'number'}")

  for key in (
    "window",
    "train.batch_size",
    "train.num_steps",
    "train.log_every",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.max_nonfinite_steps",
    "eval.num_windows",
    "eval.batch_size",
  ):
    positive(key)
  positive("train.learning_rate", integer=False)
  for key in ("train.warmup_steps", "train.weight_decay", "train.grad_clip", "data.unscaled_below_std", "eval.every"):
    value = _get(config, key)
    need(key, _number(value, False) and value >= 0, "must be a number >= 0")
  share = _get(config, "data.action_fraction")
  need("data.action_fraction", _number(share, False) and 0 < share <= 1, "must be in (0, 1]")
  need("data.action_seed", _number(_get(config, "data.action_seed"), True), "must be an integer")
  for key in ("data.num_train", "data.train_steps"):
    need(key, _number(_get(config, key), True) and _get(config, key) >= 0, "must be an integer >= 0 (0: all)")
  need(
    "data.train_steps",
    not (_get(config, "data.train_steps") and _get(config, "model.max_horizon")),
    "cuts an episode short, where model.max_horizon > 0 would embed its steps remaining as if it ended at the "
    "cut: set data.num_train (whole episodes) instead",
  )
  need(
    "data.labelled_episodes",
    all(_number(i, True) and i >= 0 for i in _get(config, "data.labelled_episodes")),
    "must be training-episode indices (integers >= 0)",
  )
  need("data.unlabelled", _get(config, "data.unlabelled") in UNLABELLED, f"must be one of {UNLABELLED}")
  share = _get(config, "data.labelled_share")
  need("data.labelled_share", _number(share, False) and 0 <= share < 1, "must be in [0, 1)")
  fraction = _get(config, "train.final_lr_fraction")
  need("train.final_lr_fraction", _number(fraction, False) and 0 <= fraction <= 1, "must be in [0, 1]")
  need("train.regime", _get(config, "train.regime") in REGIMES, f"must be one of {REGIMES}")
  need("train.loss_on", _get(config, "train.loss_on") in ("all", "hidden"), "must be 'all' or 'hidden'")
  need(
    "train.mask_granularity",
    _get(config, "train.mask_granularity") in masks.GRANULARITIES,
    f"must be one of {masks.GRANULARITIES}",
  )
  need("data.source", _get(config, "data.source") in SOURCES, f"must be one of {SOURCES}")
  need("data.returns", _get(config, "data.returns") in RETURN_KINDS, f"must be one of {RETURN_KINDS}")
  need("data.on_nonfinite", _get(config, "data.on_nonfinite") in ON_NONFINITE, f"must be one of {ON_NONFINITE}")
  need(
    "masks.return_policy", _get(config, "masks.return_policy") in masks.RETURN_POLICIES, f"must be one of {masks.RETURN_POLICIES}"
  )
  need("masks.weights", all(_number(w, False) and w >= 0 for w in _get(config, "masks.weights")), "must all be >= 0")
  tasks = _get(config, "masks.tasks")
  unknown = [t for t in tasks if t not in masks.TASKS]
  need("masks.tasks", not unknown, f"has unknown tasks {unknown}; choose from {list(masks.TASKS)}")
  regime = _get(config, "train.regime")
  need("masks.tasks", regime != "single_task" or len(tasks) == 1, "single_task trains on exactly one task")
  need("masks.tasks", regime != "multi_task" or len(tasks) >= 2, "multi_task needs at least two tasks")
  if training and regime == "finetune":
    init_from = _get(config, "train.init_from")
    need(
      "train.init_from",
      bool(init_from) and os.path.isdir(os.path.join(init_from, "checkpoints")),
      "must be the workdir of a trained run (finetune starts from its checkpoint)",
    )
  if not problems:  # the tasks the regime draws, tried on the window with their parameters
    problems += _task_problems(config)
  return problems


def _task_problems(config: dict) -> list[str]:
  problems = []
  regime, window, return_policy = config["train"]["regime"], config["window"], config["masks"]["return_policy"]
  for task in _regime_tasks(regime, config["masks"]["tasks"], config["masks"]["weights"])[0]:
    params = dict(config["masks"]["task_params"].get(task, {}))
    for name in ("keep_ratios", "mode_weights"):
      values = params.get(name, ())
      bounds = (lambda r: 0 < r <= 1) if name == "keep_ratios" else (lambda w: w >= 0)
      if not all(_number(v, False) and bounds(v) for v in values):
        allowed = "in (0, 1]" if name == "keep_ratios" else ">= 0"
        problems.append(f"masks.task_params.{task}.{name}={tuple(values)!r}: every entry must be {allowed}")
    if problems:
      continue
    try:
      fn = masks.get_task(task)
      jax.eval_shape(
        lambda k, fn=fn, params=params: fn(k, window, _ALL_ROLES, return_policy=return_policy, **params), jax.random.key(0)
      )
    except (ValueError, TypeError) as err:
      problems.append(f"masks.task_params.{task}={params!r} with window={window}: {str(err).splitlines()[0]}")
  return problems
