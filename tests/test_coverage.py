"""Mask coverage (mtm_jax.coverage): exact against a brute-force count, the covering recipe, the notices."""

import dataclasses
import importlib.util
import itertools
import json
import os

import jax
import numpy as np
import pytest
from conftest import REPO

from mtm_jax import coverage, masks
from mtm_jax.experiment import MaskConfig, parse
from mtm_jax.spec import ACTIONS, RETURNS, STATES


def _locomotion():
  found = importlib.util.spec_from_file_location("locomotion_config", os.path.join(REPO, "configs", "locomotion.py"))
  module = importlib.util.module_from_spec(found)
  found.loader.exec_module(module)
  return module


def _experiment(arg, spec):
  return dataclasses.replace(parse(_locomotion().get_config(arg)), spec=spec)


def _brute_force(spec, T, keep_counts, mode_weights, policy):
  """{pattern bytes: probability} of random_autoregressive by enumerating every draw: keep count, each
  modality's kept subset, mode and position (then ensure_visible)."""
  names = spec.names
  out = {}
  mode_p = np.asarray(mode_weights) / np.sum(mode_weights)
  for n in keep_counts:
    subsets = [s for s in itertools.product([False, True], repeat=T) if sum(s) == n]
    for mode, position in itertools.product(range(3), range(T)):
      one_hot = tuple(float(m == mode) for m in range(3))
      allowed, _ = masks.random_autoregressive(
        jax.random.key(0),
        T,
        spec,
        index=position,
        return_policy=policy,
        keep_ratios=(1.0,),
        mode_weights=one_hot,
        ensure_visible=False,
      )
      for kept in itertools.product(subsets, repeat=len(names)):
        visible = np.stack([np.asarray(k) & np.asarray(allowed[m]) for k, m in zip(kept, names)])
        p = mode_p[mode] / T / len(keep_counts) / len(subsets) ** len(names)
        if not visible.any():  # ensure_visible: one state token, uniformly
          for t in range(T):
            revealed = np.zeros_like(visible)
            revealed[names.index(STATES), t] = True
            out[revealed.tobytes()] = out.get(revealed.tobytes(), 0.0) + p / T
        else:
          out[visible.tobytes()] = out.get(visible.tobytes(), 0.0) + p
  return out


@pytest.mark.parametrize("policy", ["all", "first"])
def test_exact_coverage_matches_a_brute_force_count(sar_spec, policy):
  T, ratios, weights = 3, (0.34, 0.67, 1.0), (0.2, 0.1, 0.7)  # keep 1, 2 or 3 tokens of 3
  config = MaskConfig(
    tasks=("random_autoregressive",),
    return_policy=policy,
    task_params={"random_autoregressive": {"keep_ratios": ratios, "mode_weights": weights}},
  )
  training = coverage.TrainingMasks(sar_spec, T, config, ["random_autoregressive"])
  assert training.exact
  counted = _brute_force(sar_spec, T, [int(T * r) for r in ratios], weights, policy)
  assert sum(counted.values()) == pytest.approx(1.0)
  for pattern, p in counted.items():
    rows = np.frombuffer(pattern, bool).reshape(3, T)
    got = training.coverage({n: rows[i] for i, n in enumerate(sar_spec.names)})
    assert got.probability == pytest.approx(p, abs=1e-12)
  assert training.coverage({STATES: np.zeros(T, bool)}).probability == 0.0  # ensure_visible leaves none empty


def test_mixture_of_positional_tasks_counts_each_index(sar_spec):
  config = MaskConfig(tasks=("bc", "forward_dynamics"), return_policy="all")
  training = coverage.TrainingMasks(sar_spec, 4, config, ["bc", "forward_dynamics"], [3.0, 1.0])
  assert training.task("bc", 2).probability == pytest.approx(0.75 / 4)
  assert training.task("forward_dynamics", 0).probability == pytest.approx(0.25 / 3)
  assert training.task("inverse_dynamics", 1).probability == 0.0
  # bc@0 (s0 visible, a0 the target) is a target forward dynamics' s0/a0 mask does not score: no double count
  assert training.task("bc", 0).probability == pytest.approx(0.75 / 4)


def test_a_mask_asked_at_one_index_is_covered_there_alone(sar_spec):
  # the reference's forward-dynamics specialist never draws its evaluation mask (s[0..2], a[2]; T = 4), nor the
  # library's at i = 2; a model trained on the library's mask draws the latter, but not without past actions
  reference_eval = {"index": 2, "past_actions": False}
  reference = coverage.TrainingMasks.of(_experiment("small,hopper,medium,reference_forward_dynamics", sar_spec))
  assert reference.exact and reference.task("reference_forward_dynamics", 1).probability == pytest.approx(1 / 3)
  assert reference.task("forward_dynamics", params=reference_eval).probability == 0.0
  assert [i for i, _ in reference.uncovered("forward_dynamics", reference_eval)] == [2]
  assert [i for i, _ in reference.uncovered("forward_dynamics")] == [0, 1, 2]
  specialist = coverage.TrainingMasks.of(_experiment("small,hopper,medium,forward_dynamics", sar_spec))
  assert specialist.notice("forward_dynamics") is None
  assert "forward_dynamics@2 0 %" in specialist.notice("forward_dynamics", reference_eval)
  assert coverage.describe_params("forward_dynamics", reference_eval) == "forward_dynamics without past actions at index 2"


def test_monte_carlo_agrees_with_the_exact_rule(sar_spec):
  exp = _experiment("small,hopper,medium,mtm_reference", sar_spec)
  exact = coverage.TrainingMasks.of(exp)
  sampled = coverage.TrainingMasks.of(exp, samples=40_000)
  sampled.exact = False  # force the Monte Carlo path on the same sampler
  for task, index in [("rcbc", 3), ("bc", 0), ("forward_dynamics", 0)]:
    e, m = exact.task(task, index), sampled.task(task, index)
    assert not m.exact and m.stderr > 0
    assert abs(e.probability - m.probability) < 4 * m.stderr + 1e-9, (task, index, e, m)


def test_reference_recipe_misses_the_library_masks_and_the_default_covers_them(sar_spec):
  reference = coverage.TrainingMasks.of(_experiment("small,hopper,medium,mtm_reference", sar_spec))
  # the measurements of the reference's masks
  assert reference.task("bc", 3).probability == 0.0
  assert reference.task("inverse_dynamics", 2).probability == 0.0
  assert reference.task("imagine_act").probability == 0.0
  assert reference.task("plan_value", 3).probability == 0.0
  assert reference.task("rcbc", 3).probability == pytest.approx(0.0219, abs=5e-4)
  assert reference.task("bc", 0).probability == pytest.approx(0.0775, abs=5e-4)

  default = coverage.TrainingMasks.of(_experiment("small,hopper,medium", sar_spec))
  table = default.table(coverage.INFERENCE_TASKS)
  assert len(table) == 26
  low = {k: v["probability"] for k, v in table.items() if v["probability"] < coverage.COVERED}
  assert not low, f"the default MTM recipe leaves these inference masks below 1 %: {low}"


def test_notice_names_the_uncovered_masks_and_choose_asks_the_covered_variant(sar_spec):
  reference = coverage.TrainingMasks.of(_experiment("small,hopper,medium,mtm_reference", sar_spec))
  line = reference.notice("bc")
  assert line.startswith("notice:") and "bc@2 0 %" in line and "bc@3 0 %" in line and "\n" not in line
  params, said = coverage.choose(reference, "bc")
  assert params["history"] is False and "current state alone" in said
  default = coverage.TrainingMasks.of(_experiment("small,hopper,medium", sar_spec))
  assert default.notice("bc") is None
  assert coverage.choose(default, "bc")[1] == "bc with history"
  # the paper's fixed-input MLPs are asked their own masks, which they cover at every index
  for task, params in {"bc": {"history": False}, "rcbc": {"history": False}, "inverse_dynamics": {"all_states": True}}.items():
    paper = coverage.TrainingMasks.of(_experiment(f"small,hopper,medium,paper_mlp_{task}", sar_spec))
    assert coverage.choose(paper, task)[0] == params and paper.notice(task, params) is None
  # the reference's heteromodal recipe is asked rcbc_imagine's second pass as its inverse-dynamics mask
  heteromodal = coverage.TrainingMasks.of(_experiment("small,hopper,medium,mtm_heteromodal", sar_spec))
  assert coverage.choose(heteromodal, "imagine_act") == (
    {"returns": False},
    "imagine_act from the states alone (covered at every index; imagine_act is not)",
  )
  assert heteromodal.task("imagine_act", params={"returns": False}).probability == pytest.approx(0.5 / 3)
  assert coverage.choose(default, "imagine_act")[0] == {}


def test_rollout_and_planner_ask_the_task_masks():
  """make_act and the planner build their masks from the mask tasks, so coverage scores what they ask."""
  from mtm_jax import planning
  from mtm_jax.envs import rollout

  seen = []

  def predict(params, traj, mask):
    seen.append({m: np.asarray(v)[0] for m, v in mask.items()})
    E, K = traj[STATES].shape[:2]
    return {ACTIONS: np.zeros((E, K, 1), np.float32), STATES: traj[STATES], RETURNS: np.zeros((E, K, 1), np.float32)}

  inputs = (
    np.zeros((2, 4, 3), np.float32),
    np.zeros((2, 4, 1), np.float32),
    np.zeros((2, 4, 1), np.float32),
    np.zeros((2, 4), np.int32),
  )
  for task, pattern_tasks in [("bc", ["bc"]), ("rcbc", ["rcbc"]), ("rcbc_imagine", ["imagine", "imagine_act"])]:
    seen.clear()
    with jax.disable_jit():  # the fake predict records concrete masks
      rollout.make_act(predict, 4, task, "all")(None, *inputs, 2)
    for asked, name in zip(seen, pattern_tasks):
      expected, _ = masks.get_task(name)(None, 4, masks.ROLES, index=2, return_policy="all")
      assert all(np.array_equal(asked[m], np.asarray(expected[m])) for m in masks.ROLES), (task, name)
  seen.clear()
  with jax.disable_jit():
    planning.make_planner(predict, action_low=-np.ones(1), action_high=np.ones(1), num_candidates=2)(None, *inputs, 1)
  for asked, name in zip(seen, ["rcbc", "plan_value"]):
    expected, _ = masks.get_task(name)(None, 4, masks.ROLES, index=1, return_policy="all")
    assert all(np.array_equal(asked[m], np.asarray(expected[m])) for m in masks.ROLES), name


def test_training_writes_the_coverage_of_its_masks(tmp_path, sar_spec):
  exp = _experiment("small,hopper,medium", sar_spec)
  written = coverage.write(exp, str(tmp_path))
  on_disk = json.load(open(tmp_path / coverage.FILE))
  assert on_disk == json.loads(json.dumps(written)) and on_disk["exact"]
  assert {"bc@3", "imagine_act", "plan_value@0", "forward_dynamics@2"} <= set(on_disk["masks"])


def test_uniform_random_masks_exact_rule_agrees_with_their_sampler(sar_spec):
  config = MaskConfig(tasks=("random",), return_policy="first")
  exact = coverage.TrainingMasks(sar_spec, 2, config, ["random"])
  sampled = coverage.TrainingMasks(sar_spec, 2, config, ["random"], samples=60_000)
  sampled.exact = False
  assert exact.exact
  patterns = [
    {STATES: [True, False]},
    {STATES: [True, True], ACTIONS: [True, True]},
    {STATES: [False, True], RETURNS: [True, False]},
    {ACTIONS: [True, False]},
  ]
  for visible in patterns:
    e, m = exact.coverage(visible), sampled.coverage(visible)
    assert e.probability > 0 and abs(e.probability - m.probability) < 4 * m.stderr, (visible, e, m)
  assert exact.coverage({RETURNS: [False, True]}).probability == 0.0  # later returns are never shown


def test_each_model_is_asked_its_own_mask_on_the_same_windows_and_indices(sar_spec):
  from mtm_jax.data import windows
  from mtm_jax.eval import capabilities

  rng = np.random.default_rng(0)
  episodes = [{m.name: rng.normal(size=(12, m.dim)).astype(np.float32) for m in sar_spec} for _ in range(3)]
  validation = windows.build(episodes, sar_spec, window=4)
  exps = {m: _experiment(f"smoke,hopper,medium,{m}", sar_spec) for m in ("mtm", "paper_mlp_inverse_dynamics")}
  held = {m: capabilities.held_out(sar_spec, validation, exp, ("inverse_dynamics",)) for m, exp in exps.items()}
  ours, paper = held["mtm"], held["paper_mlp_inverse_dynamics"]
  assert all(np.array_equal(ours.batch["traj"][n], paper.batch["traj"][n]) for n in sar_spec.names)
  (ours_visible, ours_target), (paper_visible, paper_target) = ours.masks["inverse_dynamics"], paper.masks["inverse_dynamics"]
  assert all(np.array_equal(ours_target[n], paper_target[n]) for n in sar_spec.names)  # the same index i per window
  i = np.argmax(np.asarray(ours_target[ACTIONS]), axis=1)
  steps = np.arange(4)[None]
  assert np.array_equal(ours_visible[STATES], (steps == i[:, None]) | (steps == i[:, None] + 1))  # s[i], s[i + 1]
  assert np.asarray(paper_visible[STATES]).all() and not np.asarray(paper_visible[ACTIONS]).any()  # every state
  assert (ours.asked["inverse_dynamics"], paper.asked["inverse_dynamics"]) == (
    "inverse_dynamics",
    "inverse_dynamics from every state",
  )


def test_a_task_asked_with_given_parameters_is_asked_so_at_the_given_index(sar_spec):
  from mtm_jax.data import windows
  from mtm_jax.errors import UserError
  from mtm_jax.eval import capabilities

  rng = np.random.default_rng(0)
  episodes = [{m.name: rng.normal(size=(12, m.dim)).astype(np.float32) for m in sar_spec} for _ in range(3)]
  validation = windows.build(episodes, sar_spec, window=4)
  exp = _experiment("smoke,hopper,medium,mtm", sar_spec)
  eval_fd = {"index": 2, "past_actions": False}  # the reference's forward-dynamics evaluation at T = 4
  held = capabilities.held_out(sar_spec, validation, exp, ("forward_dynamics",), {"forward_dynamics": eval_fd})
  visible, target = held.masks["forward_dynamics"]
  n = len(held.batch["traj"][STATES])
  assert np.array_equal(visible[STATES], np.tile([True, True, True, False], (n, 1)))  # s[0..2]
  assert np.array_equal(visible[ACTIONS], np.tile([False, False, True, False], (n, 1)))  # a[2] alone
  assert np.array_equal(target[STATES], np.tile([False, False, False, True], (n, 1)))  # s[3] the target
  assert held.params["forward_dynamics"] == eval_fd
  assert held.asked["forward_dynamics"] == "forward_dynamics without past actions at index 2"  # the cached string
  with pytest.raises(UserError, match="every task"):
    capabilities.held_out(sar_spec, validation, exp, ("forward_dynamics", "bc"), {"forward_dynamics": eval_fd})
