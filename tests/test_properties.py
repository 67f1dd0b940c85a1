"""Property tests (hypothesis) over random specs, windows and every mask task: static shapes, no token both
visible and a target (but in ``reconstruct``, which scores what it shows), targets where the task puts
them, ensure_visible honoured, vmap = single draws; and predict's input validation never lets a wrong
shape or dtype through to XLA. MTM_HYPOTHESIS_EXAMPLES=400 searches harder than the suite's 25."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mtm_jax import masks
from mtm_jax.predict import validate
from mtm_jax.spec import ACTIONS, CONTINUOUS, DISCRETE, RETURNS, STATES, DatasetSpec, ModalitySpec

EXAMPLES = int(os.environ.get("MTM_HYPOTHESIS_EXAMPLES", 25))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ACTION_TARGETS = ("bc", "rcbc", "goal", "waypoint", "inverse_dynamics")
STATE_TARGETS = ("forward_dynamics", "backwards_dynamics")


@st.composite
def specs(draw):
  names = draw(st.lists(st.sampled_from([STATES, ACTIONS, RETURNS, "extra"]), min_size=1, max_size=4, unique=True))
  modalities = []
  for name in names:
    if name != RETURNS and draw(st.booleans()):
      modalities.append(ModalitySpec(name, DISCRETE, num_classes=draw(st.integers(2, 6))))
    else:
      modalities.append(ModalitySpec(name, CONTINUOUS, 1 if name == RETURNS else draw(st.integers(1, 4))))
  return DatasetSpec(tuple(modalities))


@st.composite
def task_params(draw, task, T):
  params = {"return_policy": draw(st.sampled_from(masks.RETURN_POLICIES))}
  if task in ("bc", "rcbc"):
    params["past_actions"] = draw(st.booleans())
  if task == "inverse_dynamics":
    params["all_states"] = draw(st.booleans())
  if task in ("random", "random_autoregressive"):
    params["ensure_visible"] = draw(st.booleans())
  if task == "random_autoregressive":
    params["keep_ratios"] = tuple(draw(st.lists(st.floats(0.05, 1.0), min_size=1, max_size=5)))
    params["mode_weights"] = (1.0, draw(st.floats(0, 1)), draw(st.floats(0, 1)))
  return params


def draw_mask(task, spec, T, params, seed):
  try:
    return masks.get_task(task)(jax.random.key(seed), T, spec, **params)
  except ValueError as err:  # a window too short for the task, or weights for modes the spec lacks: said clearly
    assert "window" in str(err) or "mode" in str(err)
    return None


@SETTINGS
@given(spec=specs(), T=st.integers(1, 32), task=st.sampled_from(sorted(masks.TASKS)), seed=st.integers(0, 2**16), data=st.data())
def test_every_task_keeps_the_mask_contract(spec, T, task, seed, data):
  params = data.draw(task_params(task, T))
  drawn = draw_mask(task, spec, T, params, seed)
  assume(drawn is not None)
  visible, target = drawn
  assert set(visible) == set(target) == set(spec.names)
  for name in spec.names:
    assert visible[name].shape == (T,) and visible[name].dtype == jnp.bool_
    assert target[name].shape == (T,) and target[name].dtype == jnp.bool_
    if task == "reconstruct":  # the autoencoding view scores exactly what it shows, by design
      np.testing.assert_array_equal(visible[name], target[name])
    else:
      assert not np.any(np.asarray(visible[name] & target[name])), f"{task}: {name} both visible and a target"
  scored = {n for n in spec.names if np.any(np.asarray(target[n]))}
  if task in ACTION_TARGETS:
    assert scored <= {ACTIONS} and (ACTIONS not in spec or int(np.asarray(target[ACTIONS]).sum()) == 1)
  if task in STATE_TARGETS:
    assert scored <= {STATES}
  if params.get("ensure_visible"):
    assert any(np.any(np.asarray(v)) for v in visible.values())
  if task in ("bc", "rcbc") and not params["past_actions"] and ACTIONS in spec:
    assert not np.any(np.asarray(visible[ACTIONS]))


@SETTINGS
@given(
  spec=specs(),
  T=st.integers(2, 16),
  task=st.sampled_from(["random", "random_autoregressive", "bc", "future"]),
  seed=st.integers(0, 2**16),
)
def test_per_sample_masks_under_vmap_equal_single_draws(spec, T, task, seed):
  assume(task != "random_autoregressive" or STATES in spec)  # its default weights favour states
  sampler = masks.make_sampler(spec, T, [task], return_policy="all")
  keys = jax.random.split(jax.random.key(seed), 4)
  batched = jax.vmap(sampler)(keys)
  for i, key in enumerate(keys):
    single = sampler(key)
    for part in range(2):
      for name in spec.names:
        np.testing.assert_array_equal(batched[part][name][i], single[part][name])


@SETTINGS
@given(spec=specs(), T=st.integers(1, 8), B=st.integers(1, 3), data=st.data())
def test_predict_validation_rejects_wrong_shapes_and_dtypes(spec, T, B, data):
  m = data.draw(st.sampled_from(spec.modalities))
  good = (B, T) + m.trailing_shape()
  fault = data.draw(st.sampled_from(["time", "batch_rank", "feature", "dtype"]))
  if fault == "time":
    shape, dtype = (B, T + 1) + m.trailing_shape(), None
  elif fault == "batch_rank":
    shape, dtype = good[1:], None
  elif fault == "feature":
    assume(not m.is_discrete)
    shape, dtype = good[:-1] + (m.dim + 1,), None
  else:
    shape, dtype = good, (np.float32 if m.is_discrete else np.int32)
  dtype = dtype or (np.int32 if m.is_discrete else np.float32)
  traj = {m.name: np.zeros(shape, dtype)}
  mask = {m.name: np.ones((B, T), bool)}
  with pytest.raises(ValueError, match=m.name):
    validate(spec, T, traj, mask, needs_steps=False)
