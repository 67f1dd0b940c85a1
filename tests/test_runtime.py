"""A full disk during training: one line naming the workdir, the newest complete checkpoint intact; a file
replaced whole or not at all."""

import shutil
import subprocess

import pytest
from conftest import process_env, train_command

from mtm_jax import runtime
from mtm_jax.checkpoint import load_checkpoint

# train_command's configs/sinusoid.py:smoke checkpoints at steps 10 and 20, ~640 kB each


@pytest.fixture
def small_disk(tmp_path):
  """A 1000 kB tmpfs: room for the run's first checkpoint, not its second."""
  mount = tmp_path / "disk"
  mount.mkdir()
  made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1000k", "tmpfs", str(mount)], capture_output=True)
  if made.returncode:
    pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode().strip()}")
  yield mount
  subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_gives_one_line_and_the_last_checkpoint_restores(small_disk, tmp_path):
  workdir = small_disk / "run"
  result = subprocess.run(train_command(workdir), env=process_env(), capture_output=True, text=True)
  assert result.returncode != 0
  assert "Traceback" not in result.stderr, result.stderr[-3000:]
  errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1 and errors[0] == result.stderr.strip().splitlines()[-1], result.stderr[-3000:]
  assert f"workdir {str(workdir)!r} is full" in errors[0] and "newest complete checkpoint (step 10)" in errors[0]
  assert load_checkpoint(str(workdir)).step == 10
  # with room again (the workdir moved to a roomy disk), the same command resumes and finishes
  roomy = tmp_path / "roomy"
  shutil.copytree(workdir, roomy)
  resumed = subprocess.run(train_command(roomy), env=process_env(), capture_output=True, text=True)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert load_checkpoint(str(roomy)).step == 20


def test_a_replacement_that_fails_leaves_the_old_file_and_no_partial_one(tmp_path):
  path = tmp_path / "report.md"
  runtime.replace_text(str(path), "first")

  def write_half(partial):
    with open(partial, "w") as f:
      f.write("half")
    raise OSError("no space left on device")

  with pytest.raises(OSError, match="no space"):
    runtime.replace_file(str(path), write_half)
  assert path.read_text() == "first" and sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
  runtime.replace_text(str(path), "second")
  assert path.read_text() == "second" and sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
