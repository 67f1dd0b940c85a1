"""Datasets: Minari loading, generators, windowing and normalisation statistics."""

from __future__ import annotations

from mtm_jax.data import minari_data, sinusoid
from mtm_jax.errors import UserError

SOURCES = ("sinusoid", "minari")


def load(data_config):
  """Returns (spec, episodes) for a ``DataConfig``'s source."""
  if data_config.source == "sinusoid":
    episodes = sinusoid.generate(data_config.num_episodes, data_config.episode_length, data_config.noise, data_config.seed)
    return sinusoid.SPEC, episodes
  if data_config.source == "minari":
    spec, episodes, _ = load_minari(data_config)
    return spec, episodes
  raise UserError(f"unknown data.source {data_config.source!r}; choose from {SOURCES}")


def load_minari(data_config):
  """(spec, episodes, metadata) of a Minari ``DataConfig``, read with every one of its options."""
  if not data_config.dataset_id:
    raise UserError("data.source='minari' needs --config.data.dataset_id=NAMESPACE/NAME-vN")
  return minari_data.load(
    data_config.dataset_id,
    download=data_config.download,
    include_rewards=data_config.include_rewards,
    return_discount=data_config.return_discount,
    returns=data_config.returns,
    on_nonfinite=data_config.on_nonfinite,
  )
