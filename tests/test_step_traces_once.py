import jax
import pytest
from conftest import smoke_config

from mtm_jax import experiment, optimizer
from mtm_jax.data import windows
from mtm_jax.data.splits import prepare_data
from mtm_jax.model import build_model, dummy_inputs
from mtm_jax.train import TrainState, make_train_step


def test_train_step_traces_once():
  config = experiment.parse(smoke_config())
  spec, train_data, _, stats = prepare_data(config.data, config.window)
  model = build_model(config.model, spec, config.window)
  opt = optimizer.make(config.train)
  params = {"model": jax.jit(model.init)(jax.random.key(0), *dummy_inputs(spec, config.window)), "norm": stats}
  state = TrainState.create(params, opt)
  step = jax.jit(make_train_step(model, spec, config.masks.sampler(spec, config.window, *config.training_tasks()), opt, "all"))
  for i in range(3):
    state, _ = step(state, windows.sample(train_data, jax.random.key(i), 16, config.window), jax.random.key(i))
  assert int(state.step) == 3
  with pytest.raises(AssertionError, match="traced twice"):  # a new batch shape would retrace: the guard catches it
    step(state, windows.sample(train_data, jax.random.key(9), 8, config.window), jax.random.key(9))
