"""What a run needs of its process and its workdir: a usable workdir, one live run per workdir, SIGTERM and
Ctrl-C as a request to stop after a checkpoint, and a full disk reported in one line."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

import jax

from mtm_jax.errors import UserError

_DISK_FULL_TEXT = ("No space left on device", "os_error_code='28'")


def check_workdir(workdir: str) -> None:
  """Creates ``workdir`` and proves it writable, or says in one line why not."""
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, f".write_test{jax.process_index()}")  # one per process: they share the workdir
    with open(probe, "w") as f:
      f.write("ok")
    os.remove(probe)
  except OSError as err:
    raise UserError(f"workdir {workdir!r} is not usable: {err.strerror or err}; pass a writable --workdir") from err


def replace_file(path: str, write: Callable[[str], None]) -> None:
  """Makes ``path`` by ``write(partial)`` into a file of this process's own, then renames it over ``path``: a
  killed write, or another process writing the same file, never leaves half of it; a write that raises leaves
  nothing beside it."""
  partial = f"{path}.{os.getpid()}.tmp"
  try:
    write(partial)
    os.replace(partial, path)
  except BaseException:
    if os.path.exists(partial):
      os.remove(partial)
    raise


def replace_text(path: str, text: str) -> None:
  """``replace_file`` with ``text`` as its content."""

  def write(partial: str) -> None:
    with open(partial, "w") as f:
      f.write(text)

  replace_file(path, write)


def lock_workdir(workdir: str):
  """An exclusive lock on WORKDIR/.lock for the run's life; the kernel releases it when the process dies."""
  handle = open(os.path.join(workdir, ".lock"), "a+")
  try:
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError as err:
    handle.seek(0)
    owner = handle.read().strip() or "unknown"
    handle.close()
    raise UserError(
      f"workdir {workdir!r} is being trained by another live process (pid {owner}); wait for it to "
      "finish or pass another --workdir"
    ) from err
  handle.seek(0)
  handle.truncate()
  handle.write(str(os.getpid()))
  handle.flush()
  return handle


class Stopped(UserError):
  """The run stopped on SIGTERM or Ctrl-C after saving a checkpoint of the current step."""


class StopRequests:
  """SIGTERM (a scheduler's preemption notice) and Ctrl-C become a request the loop honours after the
  current step, with a checkpoint; a second Ctrl-C interrupts at once. Single-process runs only: one
  process of several cannot save a checkpoint alone."""

  def __init__(self, enabled: bool = True):
    self.enabled = enabled and threading.current_thread() is threading.main_thread()
    self.received, self.previous = None, {}

  def _request(self, signum, frame):
    if self.received is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.received = signal.Signals(signum).name

  def __enter__(self):
    if self.enabled:
      self.previous = {sig: signal.signal(sig, self._request) for sig in (signal.SIGTERM, signal.SIGINT)}
    return self

  def __exit__(self, *exc):
    for sig, handler in self.previous.items():
      signal.signal(sig, handler)


def is_disk_full(err: BaseException | None) -> bool:
  """Whether ``err`` or an error it was raised from is a full disk (ENOSPC, or TensorStore's text for it)."""
  seen = set()
  while err is not None and id(err) not in seen:
    seen.add(id(err))
    if (isinstance(err, OSError) and err.errno == errno.ENOSPC) or any(t in str(err) for t in _DISK_FULL_TEXT):
      return True
    err = err.__cause__ or err.__context__
  return False


class DiskFull(UserError):
  """The disk holding a run's workdir filled up; the newest complete checkpoint is intact."""


_quieted = False
# Once a full disk is seen, a log writer's thread that finds its queue closed at exit is part of the same failure.
_disk_full_seen = False


class _DropDiskFull(logging.Filter):
  def filter(self, record: logging.LogRecord) -> bool:
    global _disk_full_seen
    text = record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "")
    full = any(t in text for t in _DISK_FULL_TEXT)
    _disk_full_seen = _disk_full_seen or full
    return not full


def _quiet_disk_full_elsewhere() -> None:
  """Keeps the copies of a full disk's error that Orbax's and tensorboardX's threads and exit callbacks print
  off the terminal: the run reports it once, in one line. Other errors pass through untouched."""
  global _quieted
  if _quieted:
    return
  _quieted = True
  for name in ("absl", "asyncio"):  # Orbax logs through absl; asyncio logs the failed writes' unread tasks
    logging.getLogger(name).addFilter(_DropDiskFull())
  thread_hook, unraisable_hook = threading.excepthook, sys.unraisablehook

  def on_thread_error(args):
    orphaned = _disk_full_seen and isinstance(args.exc_value, OSError) and str(args.exc_value) == "handle is closed"
    if not (orphaned or is_disk_full(args.exc_value)):
      thread_hook(args)

  def on_unraisable(unraisable):
    # TensorStore reports a callback that lands on Orbax's event loop after it closed as unraisable: teardown
    # after a failed write (it races the failure's own log records), never the cause of anything
    value = unraisable.exc_value
    late = isinstance(value, RuntimeError) and str(value) == "Event loop is closed"
    if not (late or is_disk_full(value)):
      unraisable_hook(unraisable)

  threading.excepthook, sys.unraisablehook = on_thread_error, on_unraisable


@contextlib.contextmanager
def disk_full_in_one_line(workdir: str, newest_checkpoint: Callable[[], int | None]):
  """Turns a full disk inside the block into one ``DiskFull`` line naming ``workdir`` and the newest complete
  checkpoint (``newest_checkpoint()``), which a rerun resumes from once there is space."""
  _quiet_disk_full_elsewhere()
  try:
    yield
  except Exception as err:
    if not is_disk_full(err):
      raise
    global _disk_full_seen
    _disk_full_seen = True
    try:
      step = newest_checkpoint()
    except Exception:  # a listing that fails too says nothing about the checkpoints
      step = None
    kept = f"the newest complete checkpoint (step {step}) is intact" if step is not None else "no checkpoint was complete"
    raise DiskFull(
      f"the disk holding workdir {workdir!r} is full, so a checkpoint or log could not be written; {kept}: free "
      "space and rerun the same command to resume"
    ) from None
