"""The quick-start notebook runs end to end, and the README's code block runs as written."""

import os
import re

import nbformat
from conftest import REPO, process_env
from nbclient import NotebookClient

from mtm_jax.train import train_and_evaluate


def test_quickstart_notebook_runs(tmp_path, monkeypatch):
  monkeypatch.setenv("QUICKSTART_DIR", str(tmp_path))
  # The kernel is a fresh process with one CPU device, as a user has, and the suite's fast compiles: with XLA's
  # full optimisation this test took 102 s against 73 s (cold cache, beside another job, 2026-12-06).
  monkeypatch.setenv("XLA_FLAGS", process_env(devices=1)["XLA_FLAGS"])
  notebook = nbformat.read(os.path.join(REPO, "examples", "quickstart.ipynb"), as_version=4)
  assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "stored with outputs"
  # A quarter of each training budget: the plots need not look good here, and the suite has a time budget.
  for budget, quarter in (("= 600, 600, 50", "= 150, 150, 50"), ("= 1500, 1500, 100", "= 375, 375, 100")):
    cells = [cell for cell in notebook.cells if budget in cell.source]
    assert len(cells) == 1, f"the notebook no longer trains with {budget!r}: update this test"
    cells[0].source = cells[0].source.replace(budget, quarter)
  examples = os.path.join(REPO, "examples")  # where a user opens it; outputs go to QUICKSTART_DIR
  NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": examples}}).execute()
  text = "".join(o.get("text", "") for cell in notebook.cells for o in cell.get("outputs", []))
  assert "of the hidden steps" in text
  assert (tmp_path / "sinusoid" / "checkpoints" / "150").exists() and (tmp_path / "gridworld" / "checkpoints" / "375").exists()


def test_readme_code_block_runs_as_written(tmp_path, monkeypatch):
  from conftest import smoke_config

  readme = open(os.path.join(REPO, "README.md")).read()
  section = readme.split("## Use from your own JAX code", 1)[1]
  block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
  monkeypatch.chdir(tmp_path)
  train_and_evaluate(smoke_config(), "runs/sinusoid")  # the run the block loads
  namespace = {}
  exec(compile(block, "README.md", "exec"), namespace)
  assert namespace["out"]["states"].shape[-1] == 1
