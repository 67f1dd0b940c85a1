"""The MTM study's measurements and its reading of the paper's claims, on numbers worked out by hand."""

import json
import os

import numpy as np
import pytest

from configs import locomotion
from mtm_jax.eval import capabilities
from mtm_jax.experiment import parse
from studies import harness
from studies import locomotion as locomotion_study
from studies import mtm as mtm_study
from studies.locomotion import GAP_ROWS, Model
from studies.report import cell_text, over_seeds, paired


def held_out():
  states = np.array([[[0.0], [1.0], [3.0]], [[0.0], [0.0], [0.0]]])  # one-step changes 1, 2, 0, 0: mean 5/4
  actions = np.array([[[1.0], [1.0], [1.0]], [[0.0], [2.0], [0.0]]])  # changes 0, 0, 2, -2: mean 2
  target = {"states": np.array([[False, True, False], [False, False, True]]), "actions": np.zeros((2, 3), bool)}
  inverse = {"states": np.zeros((2, 3), bool), "actions": np.array([[True, False, False], [False, True, False]])}
  later = {"states": np.array([[False, True, True]] * 2), "actions": np.zeros((2, 3), bool)}  # imagine's states
  batch = {"traj": {"states": states, "actions": actions}}
  tasks = {"forward_dynamics": (None, target), "inverse_dynamics": (None, inverse), "imagine": (None, later)}
  return capabilities.HeldOut(batch, tasks, params={}, asked={})


def test_dynamics_errors_are_raw_mse_over_targets_divided_by_the_one_step_change():
  held = held_out()
  predictions = {
    "forward_dynamics": {"states": held.batch["traj"]["states"] + 2.0},  # error 2 on both targets
    "inverse_dynamics": {"actions": np.zeros((2, 3, 1))},  # errors 1 and 2: squared 1 and 4
    "imagine": {"states": np.zeros((2, 3, 1))},  # squared errors 1, 9, 0, 0 on the later states; s[0] not scored
  }
  errors = capabilities.mse(predictions, held)
  assert errors == pytest.approx({"forward_dynamics": 4.0, "inverse_dynamics": 2.5, "imagine": 2.5})
  assert capabilities.relative_to_one_step(errors, held) == pytest.approx(
    {"forward_dynamics": 4.0 / 1.25, "inverse_dynamics": 2.5 / 2.0, "imagine": 2.5 / 1.25}
  )
  # imagine's no-change yardstick: s[1], s[2] predicted as s[0], squared errors 1, 9, 0, 0
  assert capabilities.repeat_first(held, "imagine") == pytest.approx(2.5 / 1.25)


def cells(**columns):
  """SeedCells from per-seed values, by column name."""
  return {name: over_seeds(values) if values else None for name, values in columns.items()}


def test_cells_are_over_seeds_never_over_one_models_episodes():
  assert locomotion_study.combine([]) is None
  one = locomotion_study.combine([{"score": [50.0, 2.0], "reached_time_limit": 1.0}])
  assert (one.mean, one.values, one.reached) == (50.0, (50.0,), 1.0) and np.isnan(one.low)  # one model decides nothing
  assert cell_text(one) == "50.0 (1 seed: no interval); 100% to the time limit"
  rollouts = [{"score": [v, 2.0], "reached_time_limit": r} for v, r in ((40.0, 0.5), (60.0, 1.0), (50.0, 0.0))]
  three = locomotion_study.combine(rollouts)
  assert three.mean == 50.0 and three.values == (40.0, 60.0, 50.0) and three.reached == 0.5
  assert 40.0 <= three.low < 50.0 < three.high <= 60.0  # a bootstrap interval of the mean over the three seeds
  assert cell_text(three).endswith("; seeds 40.0 / 60.0 / 50.0; 50% to the time limit")
  assert locomotion_study.combine([0.1, 0.3, 0.2]).mean == pytest.approx(0.2)
  same = over_seeds([1.0, 1.0, 1.0])
  assert (same.low, same.high) == (1.0, 1.0)
  assert paired(three, over_seeds([30.0, 50.0, 40.0])).values == (10.0, 10.0, 10.0)
  with pytest.raises(ValueError, match="same seeds"):
    paired(three, one)


def test_the_papers_pattern_is_decided_on_seed_paired_differences_with_the_best_specialist():
  table = {
    "rcbc": cells(MTM=[96.0, 97.0, 95.0], specialist=[100.0, 101.0, 99.0], MLP=[90.0, 91.0, 89.0]),
    "bc": cells(MTM=[20.0, 21.0, 19.0], specialist=[40.0, 42.0, 38.0], MLP=[]),
    "forward_dynamics": cells(MTM=[0.03, 0.04, 0.03], specialist=[0.9, 0.8, 0.9], MLP=[0.06, 0.07, 0.05]),
    "inverse_dynamics": cells(MTM=[0.01, 0.01, 0.02], specialist=[], MLP=[0.004, 0.005, 0.004]),
  }
  claims = {claim: holds for claim, holds, _ in mtm_study.versatility_claims(table, "medium-replay")}
  assert claims == {
    "RCBC at or near the best specialist (within 5 points)": True,  # -4 on every seed
    "best on forward dynamics": True,
    "worse than a specialist on inverse dynamics": True,
    "weak on BC from mixed-quality data": True,
  }
  table["rcbc"]["MTM"] = over_seeds([90.0, 91.0, 89.0])  # -10 on every seed
  claims = {claim: holds for claim, holds, _ in mtm_study.versatility_claims(table, "expert")}
  assert claims["RCBC at or near the best specialist (within 5 points)"] is False
  assert "weak on BC from mixed-quality data" not in claims  # only asked of mixed-quality data
  table["rcbc"]["MTM"] = over_seeds([92.0, 97.0, 99.0])  # -8, -4, 0: the interval straddles -5
  claims = {claim: holds for claim, holds, _ in mtm_study.versatility_claims(table, "expert")}
  assert claims["RCBC at or near the best specialist (within 5 points)"] is None
  # a column asked otherwise than the MTM (the paper's MLP from every state) is not set against it
  table["inverse_dynamics"]["paper MLP"] = over_seeds([0.001, 0.001, 0.001])
  asked = {"inverse_dynamics": {"MTM": "inverse_dynamics", "MLP": "inverse_dynamics", "paper MLP": "from every state"}}
  evidence = {claim: e for claim, _, e in mtm_study.versatility_claims(table, "expert", asked)}
  assert evidence["worse than a specialist on inverse dynamics"].startswith("MTM - best (MLP) +0.00")
  evidence = {claim: e for claim, _, e in mtm_study.versatility_claims(table, "expert")}
  assert evidence["worse than a specialist on inverse dynamics"].startswith("MTM - best (paper MLP)")


def test_specialists_train_one_capability_on_its_targets():
  mtm = locomotion.get_config("smoke,hopper,expert")
  assert mtm.train.regime == "multi_task" and mtm.train.loss_on == "all"  # the covering masks (issue 29)
  assert mtm.masks.tasks[0] == "random_autoregressive" and set(capabilities.CAPABILITIES) <= set(mtm.masks.tasks)
  reference = locomotion.get_config("smoke,hopper,expert,mtm_reference")
  assert reference.train.regime == "random_autoregressive" and reference.train.loss_on == "all"
  fd = locomotion.get_config("smoke,hopper,expert,reference_forward_dynamics")  # as the reference trains it
  assert (fd.model.kind, fd.train.regime, tuple(fd.masks.tasks), fd.train.loss_on) == (
    "transformer",
    "single_task",
    ("reference_forward_dynamics",),
    "all",
  )
  for task in capabilities.CAPABILITIES:
    transformer = locomotion.get_config(f"smoke,hopper,expert,{task}")
    mlp = locomotion.get_config(f"smoke,hopper,expert,mlp_{task}")
    for c, kind in ((transformer, "transformer"), (mlp, "mlp")):
      assert (c.model.kind, c.train.regime, tuple(c.masks.tasks), c.train.loss_on) == (kind, "single_task", (task,), "hidden")
  # The paper's MLPs: fixed inputs (tests/test_coverage.py: they are asked as they were trained)
  for task, params in {"bc": {"history": False}, "rcbc": {"history": False}, "inverse_dynamics": {"all_states": True}}.items():
    c = locomotion.get_config(f"smoke,hopper,expert,paper_mlp_{task}")
    assert (c.model.kind, tuple(c.masks.tasks), c.train.loss_on) == ("mlp", (task,), "hidden")
    assert parse(c, training=False).masks.params(task) == params
  with pytest.raises(ValueError, match="unknown model='decision_gpt'"):
    locomotion.get_config("smoke,hopper,expert,decision_gpt")
  # the paper's forward-dynamics MLP is the window MLP (one recipe, trained once), not a model of its own
  assert locomotion.paper_mlp("forward_dynamics") == "mlp_forward_dynamics"
  with pytest.raises(ValueError, match="unknown model='paper_mlp_forward_dynamics'"):
    locomotion.get_config("smoke,hopper,expert,paper_mlp_forward_dynamics")
  efficiency = [m for models in mtm_study.EFFICIENCY_MODELS.values() for m in (models["score"][1], models["forward_dynamics"])]
  assert set(mtm_study.PROTOCOL["specialists"]) | set(efficiency) <= set(locomotion.MODELS)


def test_unknown_scale_env_or_part_is_a_clear_error(tmp_path):
  from mtm_jax.errors import UserError

  with pytest.raises(UserError, match="unknown scale"):
    mtm_study.MTMStudy(str(tmp_path), "huge")
  with pytest.raises(UserError, match="unknown env or level"):
    mtm_study.MTMStudy(str(tmp_path), "smoke", envs=["ant"])
  with pytest.raises(UserError, match="unknown study parts"):
    mtm_study.MTMStudy(str(tmp_path), "smoke").run(("planning!",))
  with pytest.raises(UserError, match="unknown versatility level"):
    mtm_study.MTMStudy(str(tmp_path), "smoke", versatility=["expret"])


def test_the_versatility_part_can_run_some_of_its_levels(tmp_path):
  one = mtm_study.MTMStudy(str(tmp_path), "small", versatility=["expert"])
  assert one.versatility_levels == ("expert",) and mtm_study.SCALES["small"]["versatility"] == ("expert", "medium-replay")
  assert ("hopper", "medium-replay") not in one.datasets() and ("hopper", "expert") in one.datasets()
  both = mtm_study.MTMStudy(str(tmp_path), "small")  # the same folder: the level is keyed by the models' names
  assert both.versatility_levels == ("expert", "medium-replay") and ("hopper", "medium-replay") in both.datasets()


def test_a_folder_written_at_other_settings_is_refused(tmp_path):
  import json

  from mtm_jax.errors import UserError

  (tmp_path / "results.json").write_text(json.dumps({"settings": {**mtm_study.SCALES["smoke"], "steps": 99}}))
  with pytest.raises(UserError, match="use a fresh --out"):
    mtm_study.MTMStudy(str(tmp_path), "smoke")
  # episodes: no rollout key holds it, so its cached scores would mix in
  (tmp_path / "results.json").write_text(json.dumps({"settings": {**mtm_study.SCALES["smoke"], "episodes": 99}}))
  with pytest.raises(UserError, match="use a fresh --out"):
    mtm_study.MTMStudy(str(tmp_path), "smoke")
  # a representation cache made with one MTM for every seed: its TD3 curves must not pass as per-seed ones
  from studies import representation

  one_mtm = {k: v for k, v in json.loads(json.dumps(representation.SCALES["smoke"])).items() if k != "pretraining"}
  (tmp_path / "results.json").write_text(json.dumps({"settings": one_mtm}))
  with pytest.raises(UserError, match="use a fresh --out"):
    representation.RepresentationStudy(str(tmp_path), "smoke")


def test_a_folder_written_at_other_keyed_settings_is_kept_and_takes_the_new_ones(tmp_path):
  import json

  smoke = json.loads(json.dumps(mtm_study.SCALES["smoke"]))
  kept = {"rollout|hopper_medium_mtm_seed0|rcbc|fraction:0.9": {"score": [1.0, 0.0]}}
  (tmp_path / "results.json").write_text(json.dumps({"settings": {**smoke, "targets": [0.6]}, **kept}))
  study = mtm_study.MTMStudy(str(tmp_path), "smoke")  # the rollout keys hold each target: other ones only add
  assert study.harness.results["settings"] == smoke
  assert study.harness.measured(*kept, lambda: pytest.fail("a kept measurement is not recomputed")) == {"score": [1.0, 0.0]}


def test_a_share_of_the_data_trains_on_its_first_steps_and_holds_out_the_same_last_episodes(tmp_path, monkeypatch):
  monkeypatch.setattr(locomotion_study, "_dataset_size", lambda env, level, scale: (200, 190_000))
  study = mtm_study.MTMStudy(str(tmp_path), "small")
  tiny_model = Model("hopper", "expert", "mlp_rcbc", seed=1, fraction=0.005)
  full, tiny = study.config(Model("hopper", "expert")), study.config(tiny_model)
  assert (full.data.num_validation, full.data.num_train, full.data.train_steps) == (10, 0, 0)  # all 190 episodes
  assert (tiny.data.num_validation, tiny.data.train_steps, tiny.seed) == (10, 950, 1)  # 0.5 % of 190,000 steps
  assert tiny.model.kind == "mlp" and tiny.model.width == full.model.width == 64
  assert study.harness.workdir(tiny_model.name).endswith("hopper_expert_mlp_rcbc_steps0.005_seed1")
  assert study.config(Model("hopper", "expert", returns="sum")).data.returns == "sum"


def test_invocations_side_by_side_in_one_folder_keep_each_others_measurements_and_wall_time(tmp_path):
  import json
  import time

  first, second = (mtm_study.MTMStudy(str(tmp_path), "smoke") for _ in range(2))
  first.harness.measured("a", lambda: 1)
  second.harness.measured("b", lambda: 2)  # read the folder before "a" was written
  first.harness.spent("training", time.time() - 3.0)
  second.harness.spent("training", time.time() - 5.0)
  results = json.loads((tmp_path / "results.json").read_text())
  assert (results["a"], results["b"]) == (1, 2)
  assert sorted(w["training"] for w in results["wall_seconds"].values()) == pytest.approx([3.0, 5.0], abs=0.5)
  report = open(second.report(["# t"], time.time())).read()
  assert "| training | 0.1 min | 0.1 min |" in report  # 5 s this invocation, 8 s in all


def test_invocations_side_by_side_train_a_model_they_share_once(tmp_path, monkeypatch):
  import threading
  import time

  finished, trainings = set(), []

  def train(config, workdir):  # slow enough that the second invocation asks while the first trains
    trainings.append(workdir)
    time.sleep(0.3)
    os.makedirs(workdir)
    with open(os.path.join(workdir, "config.json"), "w") as f:  # as training stores it
      json.dump(parse(config, training=False).to_dict(), f)
    finished.add(workdir)

  smoke_steps = locomotion.get_config("scale=smoke").train.num_steps
  monkeypatch.setattr(harness, "train_and_evaluate", train)
  monkeypatch.setattr(harness, "latest_step", lambda workdir: smoke_steps if workdir in finished else None)
  monkeypatch.setattr(locomotion_study, "_dataset_size", lambda env, level, scale: (40, 40_000))
  studies = [mtm_study.MTMStudy(str(tmp_path), "smoke") for _ in range(2)]
  threads = [threading.Thread(target=lambda s=s: s.trained("versatility", Model("hopper", "expert")).workdir) for s in studies]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert trainings == [studies[0].harness.workdir(Model("hopper", "expert").name)]


def test_offline_rl_efficiency_and_planning_claims_compare_the_right_cells():
  results = {
    ("hopper", "medium"): {
      "primary": over_seeds([40.0, 42.0, 41.0]),
      "validated": over_seeds([25.0, 35.0, 20.0]),
      # each seed against its own data's behaviour (the seeds pool two realizations: 30.0 and 31.0)
      "above_data": {"primary": over_seeds([10.0, 12.0, 10.0]), "validated": over_seeds([-5.0, 5.0, -11.0])},
      "dataset": [30.0, 31.0],
    }
  }
  claims = mtm_study.offline_rl_claims(results)
  assert [ok for _, ok, _ in claims] == [True, None]  # -11 .. 5 straddles 0
  assert "against 30.0-31.0 (its realizations); RCBC - data +10.7" in claims[0][2]
  # against each seed's data's best episodes too, where they were measured
  results["hopper", "medium"].update(data_best=[41.5], above_best={"primary": over_seeds([-1.5, 0.5, -0.5]), "validated": None})
  claims = mtm_study.offline_rl_claims(results)
  assert [(claim, ok) for claim, ok, _ in claims][1] == (
    "RCBC at start:1.0 reaches the data's best 10% of episodes on hopper medium",
    None,
  )
  assert "against 41.5; RCBC - best -0.5" in claims[1][2] and len(claims) == 3
  table = {
    0.95: {
      "MTM": cells(score=[90.0, 91.0, 92.0], forward_dynamics=[0.02, 0.02, 0.03]),
      "MLP": cells(score=[99.0, 98.0, 97.0], forward_dynamics=[0.05, 0.06, 0.05]),
    },
    0.01: {
      "MTM": cells(score=[60.0, 61.0, 62.0], forward_dynamics=[0.2, 0.2, 0.3]),
      "MLP": cells(score=[40.0, 41.0, 42.0], forward_dynamics=[0.1, 0.1, 0.1]),
    },
  }
  claims = {claim: ok for claim, ok, _ in mtm_study.efficiency_claims(table, {0.01: "1.0% (1,006 steps)"})}
  assert claims == {
    "MTM's RCBC above the MLP-BC on 1.0% (1,006 steps) of the data": True,  # 95 % is every training episode
    "MTM's forward dynamics better than the MLP's at every share": False,
  }
  # the small scale's 10 %, 20 %, 50 % and 5 % of Hopper expert train on the steps of the paper's 1 %, 2 %, 5 %, 0.5 %
  assert [mtm_study.paper_share(n) for n in (10_055, 20_111, 50_277, 5_028, 1_006, None)] == [0.01, 0.02, 0.05, 0.005, None, None]
  ranked = {"rank_correlation": over_seeds([0.2, 0.3, 0.1]), "over_random": over_seeds([0.02, -0.01, 0.0])}
  results = {
    ("hopper", "medium"): {"gain": over_seeds([-21.8]), "ranking": ranked, "ranking_units": "score points"},
    ("hopper", "medium-replay"): {
      "gain": over_seeds([8.0, 8.0, 8.0]),
      "ranking": {"rank_correlation": None, "over_random": None},  # no decision reached: nothing to decide
      "ranking_units": "score points",
    },
  }
  assert [(ok, why) for _, ok, why in mtm_study.planning_claims(results)] == [
    (None, "gain -21.8 (1 seed: no interval) points"),  # one model decides nothing
    (True, "rank correlation +0.20 [+0.10, +0.30]; seeds +0.20 / +0.30 / +0.10"),  # the values order what is earned
    (None, "+0.003 [-0.010, +0.020]; seeds +0.020 / -0.010 / +0.000 score points"),  # their choice: undecided
    (True, "gain +8.0 [+8.0, +8.0]; seeds +8.0 / +8.0 / +8.0 points"),
    (None, "rank correlation n/a"),
    (None, "n/a score points"),
  ]


def test_learning_curves_read_a_runs_evaluations_and_decide_on_per_seed_ratios(tmp_path):
  (tmp_path / "eval_metrics.jsonl").write_text(
    "\n".join(
      json.dumps(r)
      for r in (
        {"step": 2, "eval/bc": 0.5, "eval/forward_dynamics": 2.0},
        {"step": 4, "eval/bc": 0.4, "eval/forward_dynamics": 1.0},
        {"step": 4, "eval/bc": 0.3, "eval/forward_dynamics": 1.0},  # a resumed run's second evaluation of step 4
      )
    )
  )
  curve = locomotion_study.evaluations(str(tmp_path))
  assert curve == {"bc": {2: 0.5, 4: 0.3}, "forward_dynamics": {2: 2.0, 4: 1.0}}
  assert (locomotion_study.final(curve["bc"]), locomotion_study.halfway(curve["bc"])) == (0.3, 0.5)
  assert locomotion_study.levelled(curve["bc"]) == pytest.approx(0.6)
  ratios = {
    "bc": {
      "levelled": over_seeds([0.99, 0.98, 1.0]),
      "equal steps": over_seeds([1.3, 1.4, 1.2]),  # 20-40 % worse on every seed
      "equal compute": over_seeds([1.0, 1.02, 0.98]),
    }
  }
  claims = {claim: ok for claim, ok, _ in mtm_study.curves_claims(ratios)}
  assert claims == {
    "the bc specialist has levelled off": True,
    "the one model at or near the bc specialist at equal steps": False,
    "the one model at or near the bc specialist at equal compute": True,
  }


def test_the_references_forward_dynamics_comparison_is_decided_on_per_seed_ratios():
  reference = {
    "MTM": over_seeds([0.1, 0.2, 0.1]),
    "MTM x4": over_seeds([0.05, 0.1, 0.05]),
    "MTM on the reference's masks": over_seeds([0.2, 0.2, 0.4]),
    "specialist": over_seeds([0.05, 0.1, 0.06]),  # half the MTM's, about, on every seed
    "reference's specialist": over_seeds([2.0, 1.0, 4.0]),  # 10x the MTM on its masks, 10-20x the one model's
    "reference's specialist x4": over_seeds([0.05, 0.2, 0.04]),  # ratios 1, 2, 0.8: undecided
  }
  claims = mtm_study.reference_dynamics_claims({"reference": reference})
  said = "asked as the reference asks it, "
  assert [(claim.removeprefix(said), ok) for claim, ok, _ in claims] == [
    ("its specialist errs more than the MTM on its masks", True),
    ("its specialist errs more than the one model", True),
    ("its specialist errs more than the one model, both trained x4", None),
    ("the specialist trained on the library's mask errs less than the one model", True),
  ]
  evidence = claims[0][2]
  assert evidence.startswith("reference's specialist / MTM on the reference's masks 8.33 [")
  assert evidence.endswith("seeds 10 / 5 / 10")
  reference["specialist"] = over_seeds([0.2, 0.4, 0.2])  # twice the MTM's on every seed: does not hold
  assert mtm_study.reference_dynamics_claims({"reference": reference})[3][1] is False
  reference["specialist"] = over_seeds([0.05, 0.4, 0.1])  # ratios 0.5, 2, 1: undecided
  assert mtm_study.reference_dynamics_claims({"reference": reference})[3][1] is None


def test_a_budget_multiplies_the_steps_and_every_model_evaluates_as_it_trains(tmp_path, monkeypatch):
  monkeypatch.setattr(locomotion_study, "_dataset_size", lambda env, level, scale: (200, 190_000))
  study = mtm_study.MTMStudy(str(tmp_path), "small")
  one, four = study.config(Model("hopper", "expert")), study.config(Model("hopper", "expert", budget=4))
  assert (four.train.num_steps, four.train.warmup_steps) == (4 * one.train.num_steps, 4 * one.train.warmup_steps)
  assert four.train.checkpoint_every == four.train.num_steps and four.eval.every == four.train.num_steps // 10
  assert Model("hopper", "expert", budget=4).name == "hopper_expert_mtm_x4_seed0"


def test_the_rollout_parts_train_the_one_model_and_the_mlps_at_the_scales_budget_and_the_specialists_at_its_steps(
  tmp_path,
):
  small, full = (mtm_study.MTMStudy(str(tmp_path / scale), scale) for scale in ("small", "full"))
  assert small.model("hopper", "medium", "mtm", 3, returns="sum") == Model(
    "hopper", "medium", "mtm", 3, returns="sum", budget=mtm_study.COMPUTE
  )
  assert small.model("hopper", "expert", "bc", 3, fraction=0.05) == Model("hopper", "expert", "bc", 3, fraction=0.05)
  for mlp in ("mlp_rcbc", "paper_mlp_bc"):
    assert small.model("hopper", "expert", mlp, 0).budget == mtm_study.COMPUTE
  assert full.model("hopper", "medium", "mtm", 0).budget == 1  # the paper's equal steps


def test_the_validated_target_is_chosen_from_a_grid_below_the_papers_and_best_of_keeps_the_papers(tmp_path, monkeypatch):
  study = mtm_study.MTMStudy(str(tmp_path), "small", seeds=1)
  assert set(mtm_study.TARGET_FRACTIONS) < set(study.scale["targets"]) and min(study.scale["targets"]) < 0.6

  def score(part, workdir, task, target_rule="start:1.0", planner=None, validation=False):
    p = float(target_rule.split(":")[1]) if target_rule.startswith("fraction:") else 1.0
    value = 100.0 - 50.0 * p + (1.0 if validation else 0.0)  # best at the lowest p, on both episode sets
    return {"score": [value, 0.5], "dataset_score": [30.0, 1.0], "reached_time_limit": 0.0}

  monkeypatch.setattr(study, "trained", lambda part, m: m.name)
  monkeypatch.setattr(study, "rollout_score", score)
  out = study.offline_rl("hopper", "medium")
  assert out["chosen"] == [0.3] and out["validated"].mean == pytest.approx(85.0)
  assert out["best_of"].mean == pytest.approx(70.0)  # p = 0.6, the best of the paper's grid


def test_the_answers_gather_every_parts_claims_with_their_section_and_evidence():
  measured = [
    ([("planning beats plain RCBC on hopper medium", False, "gain -4.8")], ["## Beyond the paper: planning", "..."]),
    ([], ["## Learning curves: hopper expert"]),
    ([("best on forward dynamics", None, "best (MLP) - MTM -0.4")], ["## One model against specialists: hopper expert"]),
  ]
  title, table = mtm_study.answers_section(measured)
  assert title == "## Answers: every claim this report checks"
  assert table.splitlines()[2:] == [
    "| Beyond the paper: planning | planning beats plain RCBC on hopper medium | does not hold | gain -4.8 |",
    "| One model against specialists: hopper expert | best on forward dynamics | undecided | best (MLP) - MTM -0.4 |",
  ]
  assert mtm_study.answers_section([([], ["## a part with no claims"])]) == []


def test_the_expert_gap_table_shows_each_columns_error_on_held_out_and_own_states_and_its_growth():
  def gap(own):
    return {
      "held_out": over_seeds([0.01] * 3),
      "own_early": over_seeds([0.02] * 3),
      "own": over_seeds(own),
      "data": over_seeds([0.05] * 3),
      "growth": over_seeds([o / 0.01 for o in own]),
    }

  gaps = {
    task: {"MTM": gap([0.1, 0.2, 0.3]), "specialist": gap([0.02, 0.03, 0.04]), "MLP": None, "paper MLP": None}
    for task in ("bc", "rcbc")
  }
  assert mtm_study.expert_gap_lines({}, []) == []
  text, table = mtm_study.expert_gap_lines(gaps, ["MTM", "specialist", "window MLP", "paper MLP"])
  assert "scatter 0.0500 about the expert's mode" in text
  rows = table.splitlines()
  assert len(rows) == 2 + 2 * len(GAP_ROWS)
  assert rows[2 + 3].startswith("| BC growth (own / held-out) | 20.00 [") and "| n/a | n/a |" in rows[2 + 3]
  assert rows[2 + 2].startswith("| BC on its own rollouts' states | 0.2000 [")
  gaps["bc"]["MTM"]["data"] = over_seeds([0.05, 0.06, 0.05])  # seeds on two realizations of the data
  assert "scatter 0.0500-0.0600 (over the seeds' data) about" in mtm_study.expert_gap_lines(gaps, ["MTM"] * 4)[0]

  # The heteromodal study's BC models, at each labelled share that has them (expert data).
  from studies.heteromodal import COLUMNS, GAP, HeteromodalStudy

  measured = {"MTM (labelled)": gap([0.1, 0.2, 0.3]), "heteromodal MTM": gap([0.4, 0.4, 0.4])}
  tables = {0.01: {GAP: {**dict.fromkeys(COLUMNS), **measured}}, 0.05: {GAP: dict.fromkeys(COLUMNS)}}
  title, text, table = HeteromodalStudy._gap_lines(tables)
  rows = table.splitlines()[2:]
  assert "BC's action error against the expert" in title and "scatter 0.0500 about the expert's mode" in text
  assert len(rows) == len(GAP_ROWS)  # 5 % measured none
  assert rows[2].startswith("| 1%: on its own rollouts' states | 0.2000 [") and "| 0.4000 [0.4000, 0.4000]" in rows[2]
  assert rows[2].endswith("| n/a | n/a |")  # the specialists' gaps not measured here
  assert HeteromodalStudy._gap_lines({0.05: {GAP: dict.fromkeys(COLUMNS)}}) == []


def test_the_heteromodal_claims_are_decided_seed_by_seed_and_check_the_imagined_states():
  from studies.heteromodal import COLUMNS, heteromodal_claims

  def table(labelled_score, all_score, labelled_error, all_error):
    scores = {"MTM (labelled)": over_seeds(labelled_score), "heteromodal MTM": over_seeds(all_score)}
    errors = {"MTM (labelled)": over_seeds(labelled_error), "heteromodal MTM": over_seeds(all_error)}
    empty = dict.fromkeys(COLUMNS)
    return {"bc": {**empty, **scores}, "rcbc": empty, "rcbc_imagine": empty, "imagine": {**empty, **errors}}

  tables = {
    0.01: table([10, 20, 30, 40], [30, 45, 50, 70], [3.0, 2.5, 4.0, 2.0], [2.0, 1.5, 3.0, 1.5]),
    0.25: table([60, 70, 80, 90], [61, 69, 82, 90], [1.5, 1.4, 1.6, 1.5], [1.6, 1.3, 1.5, 1.5]),
  }
  verdicts = {claim: verdict for claim, verdict, _ in heteromodal_claims(tables)}
  assert verdicts == {
    "heteromodal MTM imagines held-out states with less error than MTM on the labelled episodes (every f)": None,
    "heteromodal MTM beats MTM on the labelled episodes (BC, every f)": None,  # f = 25 %: a tie
    "the gain is largest at the smallest f (BC)": True,
  }
  tables[0.25] = table([60, 70, 80, 90], [50, 60, 70, 80], [1.5, 1.4, 1.6, 1.5], [1.4, 1.3, 1.5, 1.4])
  verdicts = {claim: verdict for claim, verdict, _ in heteromodal_claims(tables)}
  assert verdicts["heteromodal MTM imagines held-out states with less error than MTM on the labelled episodes (every f)"]
  assert verdicts["heteromodal MTM beats MTM on the labelled episodes (BC, every f)"] is False


def test_datasets_made_by_an_invocation_side_by_side_while_this_one_waited_are_not_made_again(tmp_path, monkeypatch):
  import minari

  from mtm_jax.datagen import d4rl_protocol
  from mtm_jax.envs.locomotion import dataset_id

  study = mtm_study.MTMStudy(str(tmp_path), "smoke")
  # missing when this invocation looks, made by the other while this one waited for the lock
  looks = iter([[], [dataset_id(e, lvl, "smoke") for e, lvl in study.datasets()]])
  monkeypatch.setattr(minari, "list_local_datasets", lambda: next(looks))
  monkeypatch.setattr(d4rl_protocol, "make", lambda *a, **k: pytest.fail("made again"))
  monkeypatch.setattr(d4rl_protocol, "require", lambda *a: None)
  study.ensure_datasets()
  assert os.path.exists(tmp_path / "locks" / "datasets_hopper")
