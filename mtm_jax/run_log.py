"""A run's scalars: JSON lines in its workdir, and TensorBoard event files beside them.

Training writes ``metrics.jsonl``; evaluations (validation losses, rollout scores) append to
``eval_metrics.jsonl``. The same scalars go to TensorBoard event files in the workdir itself, so
``tensorboard --logdir runs/`` shows one run per workdir. The writer is tensorboardX: it writes
TensorBoard's format with numpy and protobuf alone (flax's and clu's writers need TensorFlow).
A resumed run drops the lines past its checkpoint and tells TensorBoard to discard those steps
(``purge_step``), so the curves show each step once.
"""

from __future__ import annotations

import json
import os

TRAIN, EVAL = "metrics.jsonl", "eval_metrics.jsonl"


def _truncate(path: str, last_step: int) -> None:
  """Drops lines past ``last_step``: the resumed run writes them again, identically."""
  if not os.path.exists(path):
    return
  with open(path) as f:
    lines = [line for line in f if line.strip() and json.loads(line)["step"] <= last_step]
  with open(path, "w") as f:
    f.writelines(lines)


class RunLog:
  """Writes one stream (``TRAIN`` or ``EVAL``) of a workdir's scalars; ``resume_from`` is the restored step."""

  def __init__(
    self, workdir: str, stream: str = TRAIN, *, resume_from: int | None = None, tensorboard: bool = True, enabled: bool = True
  ):
    self.file = self.writer = None
    if not enabled:  # a process other than 0 in a multi-process run: nothing to write
      return
    self.path = os.path.join(workdir, stream)
    if stream == TRAIN:
      if resume_from is None and os.path.exists(self.path):
        os.remove(self.path)  # a fresh run in a reused workdir
      elif resume_from is not None:
        _truncate(self.path, resume_from)
    self.file = open(self.path, "a")  # held open for the run; close() closes it
    if tensorboard:
      from tensorboardX import SummaryWriter

      purge = (resume_from or 0) + 1 if stream == TRAIN else None
      self.writer = SummaryWriter(workdir, purge_step=purge, flush_secs=30, filename_suffix=f".{stream.split('.')[0]}")

  def write(self, step: int, values: dict) -> None:
    if self.file is None:
      return
    self.file.write(json.dumps({"step": int(step), **values}) + "\n")
    self.file.flush()
    if self.writer is not None:
      for name, value in values.items():
        if isinstance(value, (int, float)):
          self.writer.add_scalar(name, value, int(step))

  def close(self) -> None:
    if self.file is not None:
      self.file.close()
    if self.writer is not None:
      self.writer.close()

  def __enter__(self) -> RunLog:
    return self

  def __exit__(self, *exc) -> None:
    self.close()


def read(workdir: str, stream: str = TRAIN) -> list[dict]:
  path = os.path.join(workdir, stream)
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]
