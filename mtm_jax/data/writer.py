"""Writing a Minari dataset so that no run loses one, with a record of how it was made.

A dataset is written whole under a hidden staging folder of the datasets root, read back (its episodes'
checksum is computed from what was stored, so a write that did not stick fails here), and only then swapped
in for the dataset of that id: a generation killed at any point before the swap leaves the previous dataset
as it was. ``provenance.json`` beside Minari's ``data/`` folder repeats the generator's record in plain JSON,
so that a dataset whose HDF5 file no longer opens can still say which command makes it again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import shutil
import subprocess
import uuid
import warnings
from pathlib import Path

import numpy as np

from mtm_jax.errors import UserError

PROVENANCE = "provenance.json"
AUTHOR = "mtm_jax"
CONTACT = "the mtm_jax issue tracker"  # Minari asks for an e-mail "or some other obvious contact information"
_STAGING = ".staging-"  # hidden: Minari's listing skips hidden folders


def code_version() -> str:
  """The git commit of this checkout (``-dirty`` with uncommitted changes to tracked files), else the package's."""
  here = os.path.dirname(os.path.abspath(__file__))
  try:
    commit = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout
    dirty = subprocess.run(
      ["git", "-C", here, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True
    ).stdout
  except (OSError, subprocess.CalledProcessError):  # not a git checkout (an installed wheel), or no git
    from importlib import metadata

    return f"mtm_jax {metadata.version('mtm_jax')}"
  return commit.strip() + ("-dirty" if dirty.strip() else "")


def checksum(dataset) -> str:
  """SHA-256 over every stored episode's observations, actions, rewards, terminations and truncations."""
  digest = hashlib.sha256()

  def feed(value):
    if isinstance(value, dict):
      for key in sorted(value):
        feed(value[key])
    else:
      array = np.ascontiguousarray(value)
      digest.update(str((array.dtype.str, array.shape)).encode())
      digest.update(array.tobytes())

  for episode in dataset.iterate_episodes():
    for field in (episode.observations, episode.actions, episode.rewards, episode.terminations, episode.truncations):
      feed(field)
  return digest.hexdigest()


def dataset_folder(dataset_id: str) -> Path:
  from minari.storage import get_dataset_path

  return Path(get_dataset_path(dataset_id))


def provenance(dataset_id: str) -> dict | None:
  """The generator's record of a dataset written here (None for one made elsewhere, or an unreadable record)."""
  try:
    with open(dataset_folder(dataset_id) / PROVENANCE) as f:
      return json.load(f)
  except (OSError, ValueError):  # absent, or damaged with the rest of the dataset
    return None


def require_protocol(dataset_id: str, protocol: str, command: str) -> None:
  """A one-line error unless the dataset was made here by ``protocol``: data is never silently reused."""
  if not dataset_folder(dataset_id).exists():
    raise UserError(f"{dataset_id} is not on this machine (under {dataset_folder('')}); make it with `{command}`")
  record = provenance(dataset_id)
  made = record.get("protocol") if record else None
  if made != protocol:
    made = f"protocol {made!r}" if made else "no recorded protocol"
    raise UserError(f"{dataset_id} was made by {made}, and this run needs protocol {protocol!r}; make it with `{command}`")


def write(
  dataset_id: str,
  buffers: list,
  *,
  env: str,
  algorithm: str,
  description: str,
  code_path: str,
  generator: dict,
  command: str,
  ref_min_score: float | None = None,
  ref_max_score: float | None = None,
):
  """Writes (replacing any dataset of that id, only once the new one is complete) and returns the MinariDataset.

  generator: how the data was made (seed, settings, protocol...); stored in the dataset's metadata under
  ``generator`` with the code version, the episodes' checksum and ``command``, the line that makes it again.
  """
  import minari
  from minari.namespace import create_namespace, list_local_namespaces
  from minari.utils import parse_dataset_id

  if not buffers:
    raise UserError(f"{dataset_id}: no episodes to write")
  root = dataset_folder("")
  recover(dataset_id)
  staging = root / f"{_STAGING}{os.getpid()}-{uuid.uuid4().hex[:8]}"
  version = code_version()
  record = {**generator, "command": command, "code_version": version}
  try:
    with _datasets_path(staging), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
      warnings.simplefilter("ignore", UserWarning)  # Minari warns that it cannot serialise the env's spec kwargs
      staged = minari.create_dataset_from_buffers(
        dataset_id,
        buffers,
        env=env,
        eval_env=env,
        algorithm_name=algorithm,
        author=AUTHOR,
        author_email=CONTACT,
        code_permalink=f"mtm_jax@{version}:{code_path}",
        description=description,
        ref_min_score=ref_min_score,
        ref_max_score=ref_max_score,
      )
      record["checksum"] = checksum(minari.load_dataset(dataset_id))
      staged.storage.update_metadata({"generator": record})
    with open(staging / dataset_id / PROVENANCE, "w") as f:
      json.dump(record, f, indent=1)
    namespace = parse_dataset_id(dataset_id)[0]
    if namespace is not None and namespace not in list_local_namespaces():
      with contextlib.redirect_stdout(io.StringIO()):
        create_namespace(namespace)
    _swap(staging / dataset_id, root / dataset_id)
  except OSError as err:
    if err.errno == errno.ENOSPC:
      raise UserError(
        f"{dataset_id}: the disk under {root} is full; the previous dataset of that id is intact; "
        "free space and run the command again"
      ) from err
    raise
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return minari.load_dataset(dataset_id)


def _swap(new: Path, final: Path) -> None:
  """Renames within one filesystem: the old dataset stays whole until the new one is in place beside it."""
  final.parent.mkdir(parents=True, exist_ok=True)
  trash = final.parent / f"{_STAGING}{os.getpid()}-old-{final.name}"
  if final.exists():
    os.rename(final, trash)
  os.rename(new, final)
  shutil.rmtree(trash, ignore_errors=True)


def recover(dataset_id: str) -> None:
  """Cleans up after writers of ``dataset_id`` that were killed (their process is gone): a staged dataset is
  dropped; the old one, moved aside for a swap that never finished, goes back in place. Writers and loaders call
  it first. Only the two folders a writer uses are looked at: the root (staging) and the dataset's parent (swap)."""
  root, parent = dataset_folder(""), dataset_folder(dataset_id).parent
  for path in {*root.glob(f"{_STAGING}*"), *parent.glob(f"{_STAGING}*")}:
    pid, _, rest = path.name[len(_STAGING) :].partition("-")
    if not pid.isdigit() or _alive(int(pid)):
      continue
    final = path.parent / rest.removeprefix("old-")
    with contextlib.suppress(OSError):  # another process may be cleaning the same folder
      if rest.startswith("old-") and not final.exists():
        os.rename(path, final)
      else:
        shutil.rmtree(path)


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # alive, another user's
    pass
  return True


@contextlib.contextmanager
def _datasets_path(path: Path):
  """Minari reads its root from MINARI_DATASETS_PATH on every call; point it at the staging folder for the write."""
  before = os.environ.get("MINARI_DATASETS_PATH")
  os.environ["MINARI_DATASETS_PATH"] = str(path)
  try:
    yield
  finally:
    if before is None:
      del os.environ["MINARI_DATASETS_PATH"]
    else:
      os.environ["MINARI_DATASETS_PATH"] = before
