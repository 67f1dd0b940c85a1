"""Locomotion datasets by the D4RL protocol (a tiny SAC run), and a model trained on one rolled out by the CLI."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, process_env

from mtm_jax.datagen import d4rl_protocol
from mtm_jax.envs.locomotion import LEVELS


@pytest.fixture(scope="module")
def hopper_data(tmp_path_factory):
  """The smoke scale made as a new user would, by the CLI, from a folder of its own (seed 3)."""
  root = tmp_path_factory.mktemp("loco")
  previous = os.environ.get("MINARI_DATASETS_PATH")
  os.environ["MINARI_DATASETS_PATH"] = str(root / "minari")
  results = os.path.join(REPO, "results", "locomotion_data")
  before = {f: os.stat(os.path.join(results, f)).st_mtime_ns for f in os.listdir(results)}
  cmd = [
    sys.executable,
    "-m",
    "experiments.make_dataset",
    "locomotion",
    "--env=hopper",
    "--scale=smoke",
    "--seed=3",
  ]
  made = subprocess.run(cmd, cwd=root, env=process_env(), capture_output=True, text=True)
  assert made.returncode == 0, made.stderr[-2000:]
  assert "Minari" not in made.stderr and "UserWarning" not in made.stderr, made.stderr[-2000:]  # no missing-metadata nags
  after = {f: os.stat(os.path.join(results, f)).st_mtime_ns for f in os.listdir(results)}
  assert after == before  # a trial never touches the committed results
  out = root / "runs" / "locomotion_data" / "smoke"
  summary = json.loads((out / "hopper-seed3.json").read_text())
  yield root, summary
  if previous is None:
    os.environ.pop("MINARI_DATASETS_PATH")
  else:
    os.environ["MINARI_DATASETS_PATH"] = previous


def test_every_level_round_trips_through_minari(hopper_data):
  import minari

  from mtm_jax.data import minari_data, writer

  root, summary = hopper_data
  assert set(summary["levels"]) == set(LEVELS)
  assert summary["levels"]["full-replay"]["steps"] == d4rl_protocol.SCALES["smoke"].sac_steps  # the whole buffer
  assert summary["levels"]["medium-expert"]["episodes"] == (
    summary["levels"]["medium"]["episodes"] + summary["levels"]["expert"]["episodes"]
  )
  for level in LEVELS:
    dataset_id = f"mtm_jax/hopper-smoke/{level}-v0"
    spec, episodes, metadata = minari_data.load(dataset_id)
    assert spec["states"].dim == 11 and spec["actions"].dim == 3 and len(episodes) == summary["levels"][level]["episodes"]
    assert metadata["ref_min_score"] == summary["ref_min_score"] and metadata["ref_max_score"] == summary["ref_max_score"]
    made = metadata["generator"]
    assert made["protocol"] == "d4rl-sac-v2/smoke" and made["scale"] == "smoke" and made["seed"] == 3
    assert made["sac"]["total_steps"] == 1000 and made["sac"]["sac"]["init"] == "orthogonal" and made["level"] == level
    assert made["expert_snapshot"] == summary["expert_snapshot"] and made["command"].endswith("--scale=smoke --seed=3")
    assert len(made["code_version"]) >= 40 and made["checksum"] == writer.checksum(minari.load_dataset(dataset_id))
    assert metadata["author"] and metadata["description"] and metadata["code_permalink"].startswith("mtm_jax@")
    assert writer.provenance(dataset_id) == made  # readable without the HDF5 file
  dataset = minari.load_dataset("mtm_jax/hopper-smoke/random-v0")
  assert dataset.recover_environment().spec.id == "Hopper-v5"
  for episode in dataset.iterate_episodes():  # each episode ends once, by termination or by truncation
    ends = episode.terminations.astype(int) + episode.truncations.astype(int)
    assert ends[-1] == 1 and ends[:-1].sum() == 0
  assert any(e.terminations[-1] for e in dataset.iterate_episodes())  # a random hopper falls
  np.testing.assert_allclose(summary["levels"]["random"]["score"], 0.0, atol=1e-6)
  np.testing.assert_allclose(summary["levels"]["expert"]["score"], 100.0, atol=1e-6)
  report = (root / "runs" / "locomotion_data" / "smoke" / "README.md").read_text()
  assert "## Hopper-v5" in report and "D4RL expert 3,234" in report and "| medium-replay |" in report
  assert (root / "runs" / "locomotion_data" / "smoke" / "hopper_sac.png").stat().st_size > 1000


def test_a_killed_generation_resumes_from_its_last_checkpoint(hopper_data):
  root, summary = hopper_data
  sac = pathlib.Path(d4rl_protocol.sac_workdir(str(root / "runs" / "sac"), "hopper", "smoke", 3))
  shutil.rmtree(sac / "checkpoints" / "1000")  # killed after the checkpoint at step 500
  resumed = d4rl_protocol.make("hopper", "smoke", seed=3, root=str(root / "runs" / "sac"), levels=("expert",), progress=False)
  steps = [e["step"] for e in summary["sac_evals"]]
  assert [e["step"] for e in resumed["sac_evals"]] == steps == [0, 250, 500, 750, 1000]
  assert resumed["sac_evals"][:3] == summary["sac_evals"][:3]  # what was done before the kill is kept, not redone
  assert (sac / "checkpoints" / "1000").exists()


def test_a_study_refuses_a_dataset_made_by_another_protocol(hopper_data, tmp_path):
  from mtm_jax.data import writer
  from mtm_jax.errors import UserError

  assert d4rl_protocol.require("hopper", "medium", "smoke") == "mtm_jax/hopper-smoke/medium-v0"
  with pytest.raises(UserError, match=r"^mtm_jax/hopper-small/medium-v0 is not on this machine .*--scale=small`$"):
    d4rl_protocol.require("hopper", "medium", "small")
  # The former protocol's dataset under the id the study reads: refused in one line naming both protocols.
  folder = writer.dataset_folder("mtm_jax/hopper-smoke/medium-v0")
  record = json.loads((folder / writer.PROVENANCE).read_text())
  try:
    (folder / writer.PROVENANCE).write_text(json.dumps({**record, "protocol": "d4rl-sac-v1"}))
    with pytest.raises(UserError) as err:
      d4rl_protocol.require("hopper", "medium", "smoke")
    message = str(err.value)
    assert "\n" not in message and "'d4rl-sac-v1'" in message and "'d4rl-sac-v2/smoke'" in message
    assert message.endswith("`python -m experiments.make_dataset locomotion --env=hopper --scale=smoke`")
  finally:
    (folder / writer.PROVENANCE).write_text(json.dumps(record))


def test_the_expert_is_the_final_snapshot_unless_the_best_beats_it_beyond_noise():
  def evals(*points):
    return [{"step": i, "return_mean": m, "return_std": sd, "episodes": 20} for i, (m, sd) in enumerate(points)]

  # best 2,900 against a final 2,800, both +-300 over 20 episodes: s.e. of the difference 95, gap 100 < 190
  assert d4rl_protocol.expert_index(evals((100, 10), (2900, 300), (2800, 300))) == 2
  # the final collapsed to 1,700: gap 1,200 is far beyond noise
  assert d4rl_protocol.expert_index(evals((100, 10), (2900, 300), (1700, 900))) == 1
  assert d4rl_protocol.expert_index(evals((100, 10), (500, 50), (3000, 10))) == 2  # the final is the best
  # the medium snapshot is a third of the chosen expert, not of the final
  assert d4rl_protocol.medium_index(evals((0, 1), (900, 10), (2900, 10), (1000, 10)), expert=2) == 1


def test_medium_is_the_snapshot_nearest_a_third_of_the_expert_when_first_reached():
  evals = [{"step": s, "return_mean": r} for s, r in enumerate([10.0, 50.0, 95.0, 140.0, 300.0])]
  assert d4rl_protocol.medium_index(evals) == 2  # 300 / 3 = 100
  dipped = [{"step": s, "return_mean": r} for s, r in enumerate([10.0, 80.0, 120.0, 400.0, 100.0, 300.0])]
  assert d4rl_protocol.medium_index(dipped) == 1  # not the later dip to exactly 100
  early = [{"step": s, "return_mean": r} for s, r in enumerate([40.0, 20.0, 35.0, 90.0])]
  assert d4rl_protocol.medium_index(early) == 2  # never step 0, the untrained policy


def test_small_model_trains_and_the_rollout_cli_scores_it(hopper_data, tmp_path):
  root, summary = hopper_data
  from configs import locomotion
  from mtm_jax.train import train_and_evaluate

  workdir = str(tmp_path / "run")
  train_and_evaluate(locomotion.get_config("scale=smoke,level=medium-expert"), workdir)  # in process: the CLI is the point
  rollout = [
    sys.executable,
    "-m",
    "experiments.rollout",
    "--workdir",
    workdir,
    "--task",
    "rcbc",
    "--episodes",
    "3",
    "--num_envs",
    "2",
  ]
  result = subprocess.run(rollout, env=process_env(), capture_output=True, text=True)
  assert result.returncode == 0, result.stderr
  assert "normalised score" in result.stdout and "dataset's own" in result.stdout
  assert "asked: rcbc with history" in result.stdout  # the default MTM covers RCBC with history (mask coverage)
  report = json.load(open(os.path.join(workdir, "rollout_rcbc.json")))
  assert report["episodes"] == 3 and report["target_rule"] == "start:1.0" and report["env_id"] == "Hopper-v5"
  np.testing.assert_allclose(report["dataset_score"][0], summary["levels"]["medium-expert"]["score"], rtol=1e-4)
  planned = subprocess.run(
    [*rollout, "--plan_candidates", "2", "--plan_noise", "0.3"], env=process_env(), capture_output=True, text=True
  )
  assert planned.returncode == 0, planned.stderr
  assert "rcbc, planned (2 candidates, noise 0.3)" in planned.stdout and "asked: " in planned.stdout
  report = json.load(open(os.path.join(workdir, "rollout_rcbc_planned_2_0.3.json")))
  assert report["planner"] == {"num_candidates": 2, "noise": 0.3} and report["episodes"] == 3


def run_study(script: str, out, check: bool = True) -> subprocess.CompletedProcess:
  """experiments/SCRIPT at smoke scale into ``out``; with ``check``, it must succeed."""
  cmd = [sys.executable, "-m", f"experiments.{script.removesuffix('.py')}", "--scale=smoke", f"--out={out}"]
  result = subprocess.run(cmd, env=process_env(), capture_output=True, text=True)
  assert result.returncode == 0 or not check, result.stderr[-2000:]
  return result


def test_mtm_study_runs_every_part_and_a_rerun_resumes(hopper_data, tmp_path):
  out = tmp_path / "mtm"
  run_study("reproduce_mtm.py", out)
  report = (out / "report.md").read_text()
  for line in (
    "| RCBC score |",
    "| forward dynamics (MSE / one-step) |",
    "| hopper medium |",
    "| 95.0% (every training episode) |",
    "| dataset | RCBC | RCBC + planning |",
    "| the data's best 10% of episodes |",
    "RCBC at start:1.0 reaches the data's best 10% of episodes on hopper medium",  # every seed's data measured
    "## Differences from the paper's protocol",
    "## Answers: every claim this report checks",
  ):
    assert line in report
  assert "RCBC at or near the best specialist" in report  # the paper's claim checked against the MLP specialist
  assert "mask parameters (`coverage.choose`), so: MTM: forward_dynamics (the library's mask)" in report
  assert "| held-out loss | MTM (one model) |" in report and "| RCBC | " in report  # beside the rollouts
  assert (out / "offline_rl_targets.png").stat().st_size > 1000 and (out / "data_efficiency.png").stat().st_size > 1000
  results = json.loads((out / "results.json").read_text())
  rollouts = [k for k in results if k.startswith("rollout|")]
  # mtm bc, rcbc at the primary target and 2 others (and again on validation episodes), rcbc_imagine, rcbc
  # planned; MLP rcbc; the paper's MLP-BC (data efficiency); the return-to-go model's rcbc
  assert len(rollouts) == 11, rollouts
  assert "| MTM RCBC (p chosen on validation) |" in report
  validated = results["rollout|hopper_medium_mtm_seed0|rcbc|fraction:0.9|validation"]
  assert validated["score"] != results["rollout|hopper_medium_mtm_seed0|rcbc|fraction:0.9"]["score"]  # other seeds
  (spent,) = results["wall_seconds"].values()  # one invocation's wall time per part
  assert set(spent) == {"versatility", "learning curves", "offline RL", "data efficiency", "planning"}
  assert results["rollout|hopper_medium_mtm_seed0|rcbc|start:1.0|plan noise=0.1,num_candidates=4"]["ms_per_step"] > 0
  ranking = results["ranking|hopper_medium_mtm_seed0|start:1.0|plan noise=0.1,num_candidates=4|episodes=2,steps=1-2"]
  # a Hopper cannot fall within 2 steps of its reset: every decision is reached
  assert [(d["episode"], d["step"]) for d in ranking["decisions"]] == [(0, 1), (1, 1), (0, 2), (1, 2)]
  assert all(len(d["earned"]) == 4 for d in ranking["decisions"]) and ranking["units"] == "score points"
  assert "| dataset | rank correlation | choice - proposal | random - proposal | best - proposal | spread |" in report
  dynamics = {k: v for k, v in results.items() if k.startswith("capability|")}
  # versatility: the one model's both, the MLP's (data efficiency: the paper's forward-dynamics MLP is the window
  # MLP); the reference's forward-dynamics comparison: its six models, each asked both ways
  added = ("mtm_reference", "reference_forward_dynamics", "reference_forward_dynamics_x4")  # trained for it alone
  compared = ("mtm", "mtm_x4", "forward_dynamics", *added)
  asks = ("", "|index=2,past_actions=False")  # the smoke window is 4: the reference asks s[0..2] and a[2]
  assert sorted(dynamics) == sorted(
    [
      *(f"capability|hopper_medium_{m}" for m in ("mtm_seed0|inverse_dynamics", "mlp_forward_dynamics_seed0|forward_dynamics")),
      *(f"capability|hopper_medium_{m}_seed0|forward_dynamics{ask}" for m in compared for ask in asks),
    ]
  )
  assert all(0 < d["normalised"] < 1e3 for d in dynamics.values())
  reference = results["capability|hopper_medium_reference_forward_dynamics_seed0|forward_dynamics|index=2,past_actions=False"]
  assert reference["asked"] == "forward_dynamics without past actions at index 2" and not reference["covered"]
  curves = ("mtm_x4", "bc", "rcbc", "forward_dynamics", "inverse_dynamics")  # the one model's and specialists' curves
  assert sorted(os.listdir(out / "models")) == sorted(
    f"hopper_medium_{m}_seed0"
    for m in (
      "mtm",
      "mlp_rcbc",
      "mtm_sum",
      "paper_mlp_bc",
      "mlp_forward_dynamics",
      *curves,
      *added,
    )
  )
  assert "## Learning curves: the one model against each specialist, hopper medium" in report
  assert "## Forward dynamics asked as the reference asks it, hopper medium" in report
  assert (out / "curves_hopper_medium_bc.png").stat().st_size > 1000

  # A re-run trains and measures nothing again.
  before = (out / "results.json").stat().st_mtime_ns
  again = run_study("reproduce_mtm.py", out)
  assert (out / "results.json").stat().st_mtime_ns == before and "score" not in again.stdout


def test_each_model_is_asked_dynamics_with_its_own_trainings_mask(hopper_data, tmp_path):
  from studies.locomotion import Model
  from studies.mtm import MTMStudy

  study = MTMStudy(str(tmp_path / "mtm"), "smoke", log=lambda *_: None)
  asked = {}
  for model in ("mtm", "inverse_dynamics", "paper_mlp_inverse_dynamics"):
    trained = study.trained("versatility", Model("hopper", "medium", model))
    error = study.capability_error("versatility", trained, "hopper", "medium", "inverse_dynamics")
    assert 0 < error["normalised"] < 1e3
    asked[model] = error["asked"]
  # the paper's MLP trains with every state of the window visible (the reference's mask), so it is asked so
  assert asked == {
    "mtm": "inverse_dynamics",
    "inverse_dynamics": "inverse_dynamics",
    "paper_mlp_inverse_dynamics": "inverse_dynamics from every state",
  }


def test_a_seeds_paired_models_must_share_one_realization_of_the_data(hopper_data, tmp_path, monkeypatch):
  from mtm_jax.errors import UserError
  from studies.locomotion import Model, unit
  from studies.mtm import MTMStudy

  study = MTMStudy(str(tmp_path / "mtm"), "smoke", log=lambda *_: None)
  older = {"hopper_medium_mtm_seed0": "older-checksum", "hopper_medium_mtm_seed2": "older-checksum"}
  monkeypatch.setattr(study.harness, "realization", older.get)
  study.trained("versatility", Model("hopper", "medium", "mtm"))  # cached as trained on data made elsewhere
  study.trained("versatility", Model("hopper", "medium", "mtm", seed=1))  # another seed: on this machine's data
  study.trained("offline RL", Model("hopper", "medium", returns="sum"))  # another part pairs its own models
  with pytest.raises(UserError, match="seed 0 of versatility on hopper medium would pair models trained on two realiz"):
    study.trained("versatility", Model("hopper", "medium", "mlp_rcbc"))
  lines = study.realizations()
  assert lines[0] == "- hopper medium, data `older-checks…` (made by the same command on an earlier machine): versatility seeds 0"
  here = study._checksums["mtm_jax/hopper-smoke/medium-v0"][:12]
  assert lines[1] == f"- hopper medium, data `{here}…` (made here): versatility seeds 1; offline RL seeds 0"

  # A part's seed that cannot be paired on the older data is redone on this data: its models cached on the
  # older data are trained again here, named apart (the cache keeps the older ones' measurements)
  def measure():
    return [study.trained("versatility", Model("hopper", "medium", kind, seed=2)).name for kind in ("mtm", "mlp_rcbc")]

  assert study.paired("versatility", "hopper", "medium", 2, measure) == [
    f"hopper_medium_mtm_data{here[:8]}_seed2",
    "hopper_medium_mlp_rcbc_seed2",
  ]
  assert study.realizations()[1].endswith("(made here): versatility seeds 1, 2; offline RL seeds 0")
  # the report's configs are of the models the redone seed uses, not of the one it refused
  assert f"hopper_medium_mtm_data{here[:8]}_seed2" in study.harness.configs
  assert "hopper_medium_mtm_seed2" not in study.harness.configs

  # A seed first named on the older data but finished on a later machine's (its models named apart there) is read
  # from the cache's models on the later data on a third machine, not redone here. A realization the cache holds
  # other models of, but not this seed's, is tried first (it sorts first) and refused before anything trains.
  later = "later-checksum"
  older.update({"hopper_medium_mtm_seed3": "older-checksum", "hopper_medium_mtm_datalater-ch_seed3": later})
  older["hopper_medium_mlp_rcbc_seed3"] = later  # first trained on the later data: not named apart
  monkeypatch.setattr(study, "cached_realizations", lambda env, level: {"another-checksum", "older-checksum", later})
  study._redone[unit("versatility", "hopper", "medium", 3)] = "another-checksum"
  with pytest.raises(
    UserError, match="the cache holds no model hopper_medium_mtm_dataanother-_seed3 trained on data another-chec"
  ):
    study.trained("versatility", Model("hopper", "medium", "mtm", seed=3))
  del study._redone[unit("versatility", "hopper", "medium", 3)]

  def measure_seed3():
    return [study.trained("versatility", Model("hopper", "medium", kind, seed=3)).name for kind in ("mtm", "mlp_rcbc")]

  assert study.paired("versatility", "hopper", "medium", 3, measure_seed3) == [
    "hopper_medium_mtm_datalater-ch_seed3",
    "hopper_medium_mlp_rcbc_seed3",
  ]
  assert "- hopper medium, data `later-checks…` (made by the same command on an earlier machine): versatility seeds 3" in (
    study.realizations()
  )
  assert "hopper_medium_mtm_datalater-ch_seed3" in study.harness.configs
  assert not {"hopper_medium_mtm_seed3", "hopper_medium_mtm_dataanother-_seed3"} & set(study.harness.configs)


def test_the_cached_realizations_of_a_dataset_are_its_models_checksums(tmp_path):
  from studies.mtm import MTMStudy

  study = MTMStudy(str(tmp_path / "mtm"), "smoke", log=lambda *_: None)
  medium, replay = "mtm_jax/hopper-smoke/medium-v0", "mtm_jax/hopper-smoke/medium-replay-v0"
  study.harness.results["models"] = {
    "a": {"data": {"dataset_id": medium}, "data_checksum": "one"},
    "b": {"data": {"dataset_id": medium}, "data_checksum": "two"},
    "c": {"data": {"dataset_id": replay}, "data_checksum": "three"},  # another level's: not medium's
    "d": {"data": {"dataset_id": medium}},  # recorded before checksums were
  }
  assert study.cached_realizations("hopper", "medium") == {"one", "two"}


def test_expert_gap_sets_a_models_actions_against_the_expert_that_sampled_its_data(hopper_data, tmp_path, monkeypatch):
  from mtm_jax.data import writer
  from mtm_jax.errors import UserError
  from studies.locomotion import Model
  from studies.mtm import MTMStudy

  root, summary = hopper_data
  record = writer.provenance("mtm_jax/hopper-smoke/expert-v0")
  assert record["sac_workdir"] == str(root / "runs" / "sac" / d4rl_protocol.PROTOCOL / "smoke" / "hopper-seed3")
  expert = d4rl_protocol.expert_actions("hopper", "smoke", ())  # found where the dataset records it was made
  observations = np.zeros((4, 11))
  assert expert(observations).shape == (4, 3) and np.all(np.abs(expert(observations)) <= 1.0)
  # so a study finds it whichever study (or make_dataset) made the data, from any folder
  study = MTMStudy(str(tmp_path / "mtm"), "smoke", log=lambda *_: None)
  gap = study.expert_gap("versatility", study.trained("versatility", Model("hopper", "expert", "bc")), "hopper", "bc")
  assert set(gap) == {"own", "own_early", "held_out", "data", "growth"}
  assert all(0 < v < 4 for k, v in gap.items() if k != "growth")  # actions lie in [-1, 1]
  assert gap["growth"] == pytest.approx(gap["own"] / gap["held_out"])
  assert json.loads((tmp_path / "mtm" / "results.json").read_text())["expert_gap|hopper_expert_bc_seed0|bc"] == gap

  # A dataset made before its SAC run's folder was recorded: the run is looked for under the roots given.
  monkeypatch.setattr(writer, "provenance", lambda _: {k: v for k, v in record.items() if k != "sac_workdir"})
  with pytest.raises(UserError, match="no finished SAC run behind mtm_jax/hopper-smoke/expert-v0 in .*hopper-seed3"):
    d4rl_protocol.expert_actions("hopper", "smoke", (str(tmp_path),))
  expert = d4rl_protocol.expert_actions("hopper", "smoke", (str(tmp_path), str(root / "runs" / "sac")))
  assert expert(observations).shape == (4, 3)


def test_a_heteromodal_folder_gains_the_mtms_of_another_budget_beside_its_own(tmp_path):
  from mtm_jax.errors import UserError
  from studies import heteromodal

  def study(**overrides):
    return heteromodal.HeteromodalStudy(str(tmp_path), "smoke", overrides=overrides or None)

  longer = study(mtm_budget=4)
  names = {kind: longer.model("hopper", "expert", kind, 0, labels=0.25).name for kind in ("mtm_heteromodal", "mlp_bc", "bc")}
  # the MTMs and the MLP at 4x the steps, under their own names; the transformer specialist at the scale's, shared
  assert names == {
    "mtm_heteromodal": "hopper_expert_mtm_heteromodal_f0.25_all_x4_seed0",
    "mlp_bc": "hopper_expert_mlp_bc_f0.25_all_x4_seed0",
    "bc": "hopper_expert_bc_f0.25_all_seed0",
  }
  longer.harness.spent("heteromodal", 0.0)  # writes the folder's cache
  assert json.loads((tmp_path / "results.json").read_text())["settings"]["mtm_budget"] == 4
  assert study().model("hopper", "expert", "mtm_heteromodal", 0).budget == 1  # the same folder at the scale's budget
  with pytest.raises(UserError, match="not settings of the heteromodal study's scale 'smoke'"):
    study(mtm_steps=4)


def test_heteromodal_study_compares_labelled_and_heteromodal_mtm_and_a_rerun_resumes(hopper_data, tmp_path):
  out = tmp_path / "hetero"
  run_study("reproduce_heteromodal.py", out)
  report = (out / "report.md").read_text()
  for line in (
    "### BC score",
    "### RCBC score",
    "### rcbc_imagine score (the reference's control)",
    "### imagined states, rcbc_imagine's first pass: s[1..] from s[0] and the return (MSE / one-step)",
    "No change (every later state predicted as s[0]) scores ",
    "### inverse dynamics (MSE / one-step)",
    "### held-out BC loss, last evaluation / halfway (near 1: levelled off; above 1: rising again)",
    "| 25% |",
    "Labelled training episodes, seed 0's draw: 25%: ",
    "heteromodal MTM beats MTM on the labelled episodes (BC, every f)",
  ):
    assert line in report
  assert (out / "heteromodal_hopper_medium.png").stat().st_size > 1000
  # the MTMs train on the reference's inverse-dynamics mask (every state visible), and are asked so
  assert (
    "Held-out errors asked: MTM (labelled), heteromodal MTM: imagine (the library's mask) / "
    "MTM (labelled), heteromodal MTM: inverse_dynamics from every state." in report
  )
  results = json.loads((out / "results.json").read_text())
  errors = {k: v for k, v in results.items() if k.startswith("capability|")}
  assert sorted(errors) == sorted(
    f"capability|hopper_medium_mtm_heteromodal_f0.25_{arm}_seed0|{task}"
    for arm in ("all", "labelled")
    for task in ("imagine", "inverse_dynamics")
  )
  assert all(0 < e["normalised"] < 1e3 and e["covered"] for e in errors.values())
  assert sorted(os.listdir(out / "models")) == sorted(
    f"hopper_medium_{m}_seed0" for m in ("mtm_heteromodal_f0.25_labelled", "mtm_heteromodal_f0.25_all", "mlp_bc_f0.25_labelled")
  )
  configs = {
    m: json.loads((out / "models" / f"hopper_medium_{m}_seed0" / "config.json").read_text())["data"]
    for m in ("mtm_heteromodal_f0.25_labelled", "mtm_heteromodal_f0.25_all")
  }
  assert (
    configs["mtm_heteromodal_f0.25_labelled"]["unlabelled"] == "drop"
    and configs["mtm_heteromodal_f0.25_all"]["unlabelled"] == "state_only"
  )
  assert (
    configs["mtm_heteromodal_f0.25_labelled"]["labelled_episodes"] == configs["mtm_heteromodal_f0.25_all"]["labelled_episodes"]
  )
  results = json.loads((out / "results.json").read_text())
  # two MTMs' bc, rcbc and rcbc_imagine, the MLP's bc; the learning curve of each of those three models
  assert len([k for k in results if k.startswith("rollout|")]) == 7
  assert sorted(k for k in results if k.startswith("curve|")) == sorted(
    f"curve|hopper_medium_{m}_seed0"
    for m in ("mtm_heteromodal_f0.25_labelled", "mtm_heteromodal_f0.25_all", "mlp_bc_f0.25_labelled")
  )
  before = (out / "results.json").stat().st_mtime_ns
  run_study("reproduce_heteromodal.py", out)
  assert (out / "results.json").stat().st_mtime_ns == before


def test_each_representation_seed_reads_its_own_mtm(hopper_data, tmp_path, monkeypatch):
  from studies.representation import RepresentationStudy

  study = RepresentationStudy(str(tmp_path / "rep"), "smoke", seeds=2, log=lambda *_: None)
  read = set()

  def curve(env, level, inputs, seed, mtm):  # the TD3 run itself is the other test's: here, which MTM it reads
    read.add((seed, mtm.name))
    return [{"step": 0, "score": [0.0, 0.0]}]

  monkeypatch.setattr(study, "curve", curve)
  study.curves("hopper", "full-replay")
  assert read == {(0, "hopper_full-replay_mtm_seed0"), (1, "hopper_full-replay_mtm_seed1")}
  assert not os.path.exists(tmp_path / "rep" / "models")  # named, not trained: a cached curve needs no MTM


def test_representation_study_draws_every_variants_curve_and_a_killed_run_resumes(hopper_data, tmp_path):
  from mtm_jax.data import writer

  out = tmp_path / "rep"
  run_study("reproduce_representation.py", out)
  report = (out / "report.md").read_text()
  for line in (
    "## TD3 on hopper full-replay",
    "| TD3, raw states |",
    "| MTM state rep. (fine-tuned) |",
    "MTM state rep. (fine-tuned) reaches",
  ):
    assert line in report
  assert (out / "td3_hopper_full-replay.png").stat().st_size > 1000
  results = json.loads((out / "results.json").read_text())
  runs = {k: v for k, v in results.items() if k.startswith("td3|")}
  curves = {k: run["curve"] for k, run in runs.items()}
  assert len(curves) == 2 and all([p["step"] for p in c] == [0, 10, 20] for c in curves.values())
  # a seed's TD3 runs read that seed's MTM (each seed pretrains its own)
  finetuned = json.loads((out / "configs" / "td3_hopper_full-replay_state_finetune_seed0.json").read_text())
  assert finetuned["representation"] == str(out / "models" / "hopper_full-replay_mtm_seed0")
  # each run records the data it trained on: a seed's runs are paired on one realization of the data
  assert {run["data"] for run in runs.values()} == {writer.provenance("mtm_jax/hopper-smoke/full-replay-v0")["checksum"]}
  # A run killed after its first evaluation resumes there: drop its cached curve and newest checkpoint.
  key = "td3|hopper|full-replay|state_finetune|seed0"
  del results[key]
  (out / "results.json").write_text(json.dumps(results))
  shutil.rmtree(out / "td3" / "hopper_full-replay_state_finetune_seed0" / "checkpoints" / "20")
  run_study("reproduce_representation.py", out)
  resumed = json.loads((out / "results.json").read_text())[key]["curve"]
  assert [p["step"] for p in resumed] == [0, 10, 20] and resumed[1] == curves[key][1]
  # a seed's run on another realization of the data is not paired with one trained here
  results = json.loads((out / "results.json").read_text())
  results["td3|hopper|full-replay|raw|seed0"]["data"] = "older-checksum"
  del results[key]
  (out / "results.json").write_text(json.dumps(results))
  failed = run_study("reproduce_representation.py", out, check=False)
  assert failed.returncode == 1 and "seed 0 of representation on hopper full-replay would pair" in failed.stderr


def test_the_data_best_episodes_are_measured_once_per_realization_and_cached(hopper_data, tmp_path, monkeypatch):
  from studies.mtm import MTMStudy

  _, summary = hopper_data
  out = str(tmp_path / "mtm")
  study = MTMStudy(out, "smoke", log=lambda *_: None)
  here = study.checksum("hopper", "medium")
  best = study.best_episodes_score("hopper", "medium", here)
  assert best >= summary["levels"]["medium"]["score"]  # the best tenth of the episodes, against their mean
  # on a later machine, which made another realization, the report still has this one's, from the cache
  later = MTMStudy(out, "smoke", log=lambda *_: None)
  monkeypatch.setattr(later, "checksum", lambda env, level: "later-checksum")
  assert later.best_episodes_score("hopper", "medium", here) == best
  assert later.best_episodes_score("hopper", "medium", "never-measured") is None
