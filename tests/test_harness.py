"""The study harness on a fake study of one sinusoid smoke model: train if missing, measure once, guard the scale,
report with the configs of its models."""

import functools
import json
import shutil

import pytest
from conftest import smoke_config

from mtm_jax.checkpoint import latest_step
from mtm_jax.errors import UserError
from mtm_jax.experiment import parse
from studies import harness

SCALES = {"tiny": dict(steps=4), "tinier": dict(steps=2)}


class TinyStudy:
  """One model and one measurement of it (its final step), then a report."""

  def __init__(self, out, scale: str = "tiny"):
    self.harness = harness.Harness(str(out), scale, SCALES)
    self.measurements = 0

  def config(self):
    # the test's recipe at its scale, as configs/ size a study's models
    c = smoke_config(**{"model.width": 16, "train.batch_size": 8, "train.num_steps": self.harness.scale["steps"]})
    return harness.as_trained(c, seed=0)

  def run(self) -> str:
    model = self.harness.model("training", "sine", self.config())
    step = self.harness.measured("step|sine", functools.partial(self.final_step, model))
    return self.harness.write_report(["# tiny", f"final step {step}"])

  def final_step(self, model: harness.Trained) -> int:
    self.measurements += 1
    return latest_step(model.workdir)


def test_a_finished_model_is_not_trained_again_and_a_measurement_is_read_back(tmp_path, monkeypatch):
  first = TinyStudy(tmp_path)
  first.run()
  assert latest_step(first.harness.workdir("sine")) == 4 and first.measurements == 1
  results = json.loads((tmp_path / "results.json").read_text())
  assert results["step|sine"] == 4 and list(results["wall_seconds"].values())[0]["training"] > 0

  def train(config, workdir):
    raise AssertionError(f"{workdir} is finished: it must not be trained again")

  monkeypatch.setattr(harness, "train_and_evaluate", train)
  before = (tmp_path / "results.json").stat().st_mtime_ns
  second = TinyStudy(tmp_path)  # another invocation into the same folder
  assert (tmp_path / "report.md").read_text() == open(second.run()).read() == "# tiny\n\nfinal step 4\n"
  assert second.measurements == 0 and second.harness.wall == {}
  assert (tmp_path / "results.json").stat().st_mtime_ns == before  # nothing new to cache


def test_the_report_stores_the_config_of_every_model_it_uses_and_only_those(tmp_path):
  study = TinyStudy(tmp_path)
  (tmp_path / "configs").mkdir()
  (tmp_path / "configs" / "gone.json").write_text("{}")  # an earlier report's model that this one does not use
  path = study.run()
  assert path == str(tmp_path / "report.md")
  assert sorted(p.name for p in (tmp_path / "configs").iterdir()) == ["sine.json"]
  stored = json.loads((tmp_path / "configs" / "sine.json").read_text())
  assert stored == json.loads(json.dumps(parse(study.config()).to_dict()))
  assert (stored["model"]["width"], stored["model"]["encoder_layers"], stored["train"]["num_steps"]) == (16, 1, 4)
  assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob("configs/*.tmp"))  # written by replacing


def test_a_scale_is_validated_and_a_folder_written_at_other_settings_is_refused(tmp_path):
  with pytest.raises(UserError) as err:
    harness.Harness(str(tmp_path), "huge", SCALES)
  assert str(err.value) == "unknown scale 'huge'; choose from ['tiny', 'tinier']"
  harness.Harness(str(tmp_path), "tiny", SCALES, settings={"beta": 1.0}).measured("a", lambda: 1)
  for scale, settings in (("tinier", {"beta": 1.0}), ("tiny", {"beta": 2.0}), ("tiny", None)):
    with pytest.raises(UserError, match="use a fresh --out") as err:
      harness.Harness(str(tmp_path), scale, SCALES, settings=settings)
    assert "\n" not in str(err.value)
  assert harness.Harness(str(tmp_path), "tiny", SCALES, settings={"beta": 1.0}).measured("a", lambda: 2) == 1


def test_a_model_is_trained_as_its_recipe_says_seeded_with_one_checkpoint_at_the_end():
  c = harness.as_trained(smoke_config(**{"train.num_steps": 30}), seed=3)
  assert (c.seed, c.train.num_steps, c.train.checkpoint_every, c.train.init_from) == (3, 30, 30, "")
  finetune = harness.as_trained(smoke_config(), seed=0, init_from="runs/random_seed0")
  assert finetune.train.init_from == "runs/random_seed0"


def test_a_cache_alone_resumes_a_study_without_its_models(tmp_path, monkeypatch):
  TinyStudy(tmp_path / "trained").run()
  (tmp_path / "fresh").mkdir()  # another machine, given only the folder's results.json (say, from results/)
  shutil.copy(tmp_path / "trained" / "results.json", tmp_path / "fresh")

  def train(config, workdir):
    raise AssertionError("every measurement is cached: no model is needed")

  monkeypatch.setattr(harness, "train_and_evaluate", train)
  study = TinyStudy(tmp_path / "fresh")
  assert open(study.run()).read() == "# tiny\n\nfinal step 4\n" and study.measurements == 0
  assert not (tmp_path / "fresh" / "models").exists()
  assert json.loads((tmp_path / "fresh" / "configs" / "sine.json").read_text())["train"]["num_steps"] == 4


CHANGED = {"model.width": 32, "train.batch_size": 8, "train.num_steps": 4, "train.checkpoint_every": 4}


def test_a_model_of_another_recipe_is_refused_in_one_line_by_its_cache_record_and_by_its_workdir(tmp_path):
  TinyStudy(tmp_path).run()
  with pytest.raises(UserError) as err:
    TinyStudy(tmp_path).harness.model("training", "sine", smoke_config(**CHANGED))
  message = "holds measurements of a model sine trained with other model.width; use a fresh --out for this recipe"
  assert str(err.value) == f"{tmp_path}/results.json {message}"
  (tmp_path / "results.json").unlink()  # a cache that recorded no recipe (older folders): the model is checked
  with pytest.raises(UserError) as err:
    TinyStudy(tmp_path).harness.model("training", "sine", smoke_config(**CHANGED))
  assert (
    str(err.value) == f"{tmp_path}/models/sine holds a model trained with other model.width; use a fresh --out for this recipe"
  )


def test_a_model_on_data_made_again_otherwise_keeps_its_measurements_and_is_refused_where_it_is_needed(tmp_path):
  study = TinyStudy(tmp_path)
  model = study.harness.model("training", "sine", study.config(), data="checksum-1", derived=("num_validation",))
  study.harness.measured("step|sine", functools.partial(study.final_step, model))
  again = TinyStudy(tmp_path).harness
  assert again.model("training", "sine", study.config(), data="checksum-1").workdir  # the same data: read back
  # Another realization of the data: another checksum, and what follows from its content (its held-out episodes)
  other = study.config()
  other.data.num_validation += 1
  older = again.model("training", "sine", other, data="checksum-2", derived=("num_validation",))
  assert again.realization("sine") == "checksum-1" and again.measured("step|sine", pytest.fail) == 4
  assert again.configs["sine"]["data"]["num_validation"] == study.config().data.num_validation  # as it trained
  with pytest.raises(UserError) as err:
    again.measured(
      "another|sine", lambda: older.workdir
    )  # a measurement that is not cached: the model cannot be trained again on the older data here
  assert "sine trained on data checksum-1, where this machine made checksum-2" in str(err.value)
  assert "\n" not in str(err.value)
  # Anything else that differs is another recipe
  with pytest.raises(UserError, match="holds measurements of a model sine trained with other data.num_validation, data_ch"):
    again.model("training", "sine", other, data="checksum-2")
  with pytest.raises(UserError, match="trained with other model.width, data_checksum; use a fresh --out"):
    again.model("training", "sine", smoke_config(**CHANGED), data="checksum-2", derived=("num_validation",))


def test_a_folders_lock_admits_one_invocation_at_a_time(tmp_path):
  import subprocess
  import sys
  import time

  from conftest import REPO, process_env

  # another process (an invocation side by side) holds the lock for half a second; this one waits for it
  holder = (
    "import sys, time; from studies import harness; h = harness.Harness(sys.argv[1], 'tiny', {'tiny': {}}); "
    "cm = h.locked('datasets_hopper'); cm.__enter__(); print('held', flush=True); time.sleep(0.5); cm.__exit__(None, None, None)"
  )
  other = subprocess.Popen(
    [sys.executable, "-c", holder, str(tmp_path)], cwd=REPO, env=process_env(), stdout=subprocess.PIPE, text=True
  )
  assert other.stdout.readline().strip() == "held"
  started = time.time()
  with harness.Harness(str(tmp_path), "tiny", SCALES).locked("datasets_hopper"):
    waited = time.time() - started
  other.wait()
  assert other.returncode == 0 and waited > 0.2
  with harness.Harness(str(tmp_path), "tiny", SCALES).locked("datasets_walker2d"):  # another lock: no wait
    pass
