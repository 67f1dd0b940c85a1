import jax
import pytest
from conftest import smoke_config

from mtm_jax import optimizer
from mtm_jax.data import windows
from mtm_jax.model import dummy_inputs
from mtm_jax.predict import build
from mtm_jax.train import TrainState, make_sampler, make_train_step, prepare_data


def test_train_step_traces_once():
  config = smoke_config()
  spec, train_data, _, stats = prepare_data(config)
  config.spec = spec.to_dict()
  model = build(config, spec)
  opt = optimizer.make(config.train)
  params = {"model": model.init(jax.random.key(0), *dummy_inputs(spec, config.window)), "norm": stats}
  state = TrainState.create(params, opt)
  step = jax.jit(make_train_step(model, spec, make_sampler(config, spec), opt, "all"))
  for i in range(3):
    state, _ = step(state, windows.sample(train_data, jax.random.key(i), 16, config.window), jax.random.key(i))
  assert int(state.step) == 3
  with pytest.raises(AssertionError, match="traced twice"):  # a new batch shape would retrace: the guard catches it
    step(state, windows.sample(train_data, jax.random.key(9), 8, config.window), jax.random.key(9))
