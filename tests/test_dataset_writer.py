"""Writing a dataset loses nothing: a write killed at any point leaves the previous dataset whole and loadable,
and a damaged one says in one line how to make it again."""

import os
import subprocess
import sys

import pytest
from conftest import REPO, process_env

from mtm_jax.data import minari_data, writer
from mtm_jax.datagen import gridworld as gridworld_data
from mtm_jax.errors import UserError

DATASET_ID = "mtmtest/writer-keydoor-v0"


@pytest.fixture
def datasets(tmp_path, monkeypatch):
  monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
  gridworld_data.write(DATASET_ID, num_episodes=6, seed=0)
  return tmp_path / "minari"


def _checksum():
  return minari_data.load(DATASET_ID)[2]["generator"]["checksum"]


def _killed_write(point: str) -> subprocess.CompletedProcess:
  """A process that rewrites the dataset (other seed) and is SIGKILLed at ``point`` of the write."""
  kill = "lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)"
  patch = {
    "staged": f"writer.checksum = {kill}",  # the new dataset is staged, not yet read back
    "swap": "real = os.rename; calls = []\n"  # the old dataset moved aside, the new not yet in place
    "def rename(a, b):\n  calls.append(a); real(a, b)\n  len(calls) == 1 and os.kill(os.getpid(), 9)\n"
    "os.rename = rename",
  }[point]
  code = (
    f"import os, signal\nfrom mtm_jax.data import writer\nfrom mtm_jax.datagen import gridworld as dataset\n{patch}\n"
    f"dataset.write({DATASET_ID!r}, num_episodes=8, seed=1)\n"
  )
  return subprocess.run([sys.executable, "-c", code], env=process_env(), capture_output=True, text=True, cwd=REPO)


@pytest.mark.parametrize("point", ["staged", "swap"])
def test_a_write_killed_midway_leaves_the_previous_dataset_intact(datasets, point):
  before = _checksum()
  killed = _killed_write(point)
  assert killed.returncode == -9, killed.stderr[-1500:]
  spec, episodes, metadata = minari_data.load(DATASET_ID)  # loading puts a dataset moved aside back in place
  assert len(episodes) == 6 and metadata["generator"]["checksum"] == before and metadata["generator"]["seed"] == 0
  assert not list(datasets.glob("**/.staging-*"))  # and drops a dead writer's staged data
  again = gridworld_data.write(DATASET_ID, num_episodes=8, seed=1)
  assert again.total_episodes == 8 and not list(datasets.glob("**/.staging-*"))
  assert _checksum() != before


def test_a_rewrite_replaces_the_dataset_and_records_how_it_was_made(datasets):
  first = _checksum()
  gridworld_data.write(DATASET_ID, num_episodes=6, seed=0)
  assert _checksum() == first  # the same command makes the same episodes
  record = writer.provenance(DATASET_ID)
  assert (
    record["command"] == f"python -m experiments.make_dataset gridworld --num_episodes=6 --beta=1.0 --seed=0 "
    f"--dataset_id={DATASET_ID}"
  )
  assert record["beta"] == 1.0 and record["code_version"]


def test_a_corrupted_file_gives_one_line_naming_the_dataset_and_the_command(datasets):
  (path,) = (datasets / DATASET_ID / "data").glob("*.hdf5")
  data = path.read_bytes()
  path.write_bytes(data[: len(data) // 2])
  with pytest.raises(UserError) as err:
    minari_data.load(DATASET_ID)
  message = str(err.value)
  assert "\n" not in message and DATASET_ID in message and "cannot be read" in message
  assert message.endswith(f"make it again with `{writer.provenance(DATASET_ID)['command']}`")


def test_a_damaged_dataset_made_elsewhere_is_deleted_and_downloaded_again(datasets):
  (path,) = (datasets / DATASET_ID / "data").glob("*.hdf5")
  path.write_bytes(b"not an hdf5 file")
  os.remove(datasets / DATASET_ID / writer.PROVENANCE)
  with pytest.raises(UserError, match=r"cannot be read .*; delete .* --config.data.download=True"):
    minari_data.load(DATASET_ID)


def test_a_download_without_network_fails_in_one_line(datasets, monkeypatch):
  def unreachable(*args, **kwargs):
    raise OSError("[Errno -2] Name or service not known")

  monkeypatch.setattr(minari_data.socket, "create_connection", unreachable)
  with pytest.raises(
    UserError,
    match=r"^cannot download Minari dataset 'mujoco/hopper/expert-v0': huggingface.co is "
    r"unreachable",
  ):
    minari_data.load("mujoco/hopper/expert-v0", download=True)
