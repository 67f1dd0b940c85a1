"""An experiment config checked at the boundary, before anything is built: one line per violation,
naming the key, the value and what is allowed (``ConfigError``)."""

from __future__ import annotations

import numbers
import os

import jax

from mtm_jax import masks
from mtm_jax.data import SOURCES
from mtm_jax.data.minari_data import ON_NONFINITE, RETURN_KINDS
from mtm_jax.errors import UserError
from mtm_jax.model import LAYOUTS
from mtm_jax.spec import ACTIONS, CONTINUOUS, RETURNS, STATES, DatasetSpec, ModalitySpec

REGIMES = ("single_task", "multi_task", "random", "random_autoregressive", "finetune")
# Every role a task can use, so a mask generator can be tried on the config's window and parameters.
_ALL_ROLES = DatasetSpec((ModalitySpec(STATES, CONTINUOUS, 1), ModalitySpec(ACTIONS, CONTINUOUS, 1),
                          ModalitySpec(RETURNS, CONTINUOUS, 1)))


class ConfigError(UserError):
  """Every violation of a config, one per line."""


def regime_tasks(config) -> tuple[list[str], list[float] | None]:
  """The mask tasks a regime trains on and their weights (``check`` has checked them)."""
  if config.train.regime in ("random", "random_autoregressive"):
    return [config.train.regime], None
  return list(config.masks.tasks), list(config.masks.weights) or None


def _get(config, key: str):
  node = config
  for part in key.split("."):
    node = node.get(part) if hasattr(node, "get") else None
  return node


def _number(value, integer: bool) -> bool:
  kind = numbers.Integral if integer else numbers.Real
  return isinstance(value, kind) and not isinstance(value, bool)


def check(config) -> None:
  """Raises ConfigError listing every violation; returns quietly for a valid config."""
  problems = []

  def need(key: str, ok: bool, allowed: str) -> None:
    if not ok:
      problems.append(f"{key}={_get(config, key)!r}: {allowed}")

  def positive(key, integer=True):
    value = _get(config, key)
    need(key, _number(value, integer) and value > 0, f"must be a positive {'integer' if integer else 'number'}")

  def at_least_zero(key):
    value = _get(config, key)
    need(key, _number(value, False) and value >= 0, "must be a number >= 0")

  for key in ("window", "train.batch_size", "train.num_steps", "train.log_every", "train.checkpoint_every",
              "train.keep_checkpoints", "train.max_nonfinite_steps", "eval.num_windows", "eval.batch_size",
              "model.width", "model.num_heads", "model.encoder_layers", "model.mlp_ratio"):
    positive(key)
  positive("train.learning_rate", integer=False)
  for key in ("train.warmup_steps", "train.weight_decay", "train.grad_clip", "model.decoder_layers", "model.max_horizon"):
    at_least_zero(key)
  need("train.final_lr_fraction", _number(config.train.final_lr_fraction, False) and 0 <= config.train.final_lr_fraction <= 1,
       "must be in [0, 1]")
  need("model.dropout", _number(config.model.dropout, False) and 0 <= config.model.dropout < 1, "must be in [0, 1)")
  width, heads = config.model.width, config.model.num_heads
  if _number(width, True) and _number(heads, True) and width > 0 and heads > 0:
    need("model.width", width % heads == 0 and width % 2 == 0, f"must be even and divisible by model.num_heads={heads}")
  need("model.kind", config.model.kind in ("transformer", "mlp"), "must be 'transformer' or 'mlp'")
  need("model.token_layout", config.model.token_layout in LAYOUTS, f"must be one of {LAYOUTS}")
  need("model.positions", config.model.positions in ("sinusoidal", "learned"), "must be 'sinusoidal' or 'learned'")
  need("train.regime", config.train.regime in REGIMES, f"must be one of {REGIMES}")
  need("train.loss_on", config.train.loss_on in ("all", "hidden"), "must be 'all' or 'hidden'")
  need("data.source", config.data.source in SOURCES, f"must be one of {SOURCES}")
  need("data.returns", config.data.get("returns", "sum") in RETURN_KINDS, f"must be one of {RETURN_KINDS}")
  need("data.on_nonfinite", config.data.get("on_nonfinite", "error") in ON_NONFINITE, f"must be one of {ON_NONFINITE}")
  need("masks.return_policy", config.masks.return_policy in masks.RETURN_POLICIES, f"must be one of {masks.RETURN_POLICIES}")
  need("masks.weights", all(_number(w, False) and w >= 0 for w in config.masks.weights), "must all be >= 0")
  unknown = [t for t in config.masks.tasks if t not in masks.TASKS]
  need("masks.tasks", not unknown, f"has unknown tasks {unknown}; choose from {list(masks.TASKS)}")
  count = len(config.masks.tasks)
  need("masks.tasks", config.train.regime != "single_task" or count == 1, "single_task trains on exactly one task")
  need("masks.tasks", config.train.regime != "multi_task" or count >= 2, "multi_task needs at least two tasks")
  if config.train.regime == "finetune":
    init_from = config.train.init_from
    need("train.init_from", bool(init_from) and os.path.isdir(os.path.join(init_from, "checkpoints")),
         "must be the workdir of a trained run (finetune starts from its checkpoint)")
  if not problems:  # the tasks the regime draws, tried on the window with their parameters
    problems += _task_problems(config)
  if problems:
    raise ConfigError("invalid config:\n" + "\n".join(problems))


def _task_problems(config) -> list[str]:
  problems = []
  for task in regime_tasks(config)[0]:
    params = dict(config.masks.task_params[task]) if task in config.masks.task_params else {}
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
      jax.eval_shape(lambda k, fn=fn, params=params: fn(k, config.window, _ALL_ROLES,
                                                        return_policy=config.masks.return_policy, **params),
                     jax.random.key(0))
    except (ValueError, TypeError) as err:
      problems.append(f"masks.task_params.{task}={params!r} with window={config.window}: {str(err).splitlines()[0]}")
  return problems
