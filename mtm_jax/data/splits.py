"""A data config's (``experiment.DataConfig``) episodes split for training: held-out episodes, labelled
(action-keeping) episodes, windows and normalisation statistics.
Training, evaluators and studies all read held-out data from here."""

import numpy as np

from mtm_jax import data
from mtm_jax.data import windows
from mtm_jax.errors import UserError
from mtm_jax.normalization import compute_stats
from mtm_jax.spec import ACTIONS


def training_split(data_config):
  """(spec, training episodes, held-out episodes, labelled ids) of a data config.

  Training episodes outside the labelled ids (``labelled_episodes``) lose their actions (heteromodal
  training) or, with ``unlabelled="drop"``, are left out (a model of the labelled ones alone). The held-out
  ones keep theirs, to be scored on.
  """
  spec, episodes = data.load(data_config)
  train_eps, val_eps = split_by_config(episodes, data_config)
  labelled = labelled_episodes(data_config, train_eps)
  keep = set(labelled)
  if data_config.unlabelled == "drop":
    train_eps = [e for i, e in enumerate(train_eps) if i in keep]
  else:
    train_eps = [e if i in keep else {k: v for k, v in e.items() if k != ACTIONS} for i, e in enumerate(train_eps)]
  return spec, train_eps, val_eps, labelled


def split_by_config(episodes, data_config) -> tuple[list, list]:
  """(training, held-out) episodes of a data config (``windows.split_episodes`` with its options), before
  labels are dropped."""
  d = data_config
  return windows.split_episodes(episodes, d.validation_fraction, d.num_validation, d.num_train, d.train_steps)


def prepare_data(data_config, window: int, split=None):
  """(spec, train WindowData, validation WindowData, normalisation stats) of a data config; ``split``: its
  ``training_split``, where the caller already has it."""
  spec, train_eps, val_eps, _ = split or training_split(data_config)
  stats = compute_stats(windows.real_steps(train_eps, spec), spec, data_config.unscaled_below_std)
  train = windows.build(train_eps, spec, window, data_config.labelled_share)
  return spec, train, windows.build(val_eps, spec, window), stats


def labelled_episodes(data_config, train_episodes) -> tuple[int, ...]:
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
