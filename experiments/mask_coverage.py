"""Mask coverage of the locomotion recipes: how often each recipe's training draws every mask the library asks.

python -m experiments.mask_coverage [--models=mtm,mtm_reference,bc,rcbc,forward_dynamics,inverse_dynamics]
    [--shares=0.3,0.5,0.7] [--window=4] [--out=runs/mask_coverage]

One row per inference mask (coverage.INFERENCE_TASKS at every index), one column per recipe
(configs/locomotion.py's MODELS, and the covering recipe at each --shares), exact (mtm_jax.coverage).
Writes README.md and coverage.json to --out; results/mask_coverage holds the committed copy, made on purpose.
"""

import dataclasses
import json
import os

from absl import flags

from configs import locomotion
from experiments import cli
from mtm_jax import coverage
from mtm_jax.experiment import parse
from mtm_jax.spec import CONTINUOUS, DatasetSpec, ModalitySpec

_MODELS = flags.DEFINE_list(
  "models",
  ["mtm", "mtm_reference", "bc", "rcbc", "forward_dynamics", "inverse_dynamics"],
  f"Recipes (configs/locomotion.py MODELS: {list(locomotion.MODELS)}).",
)
_SHARES = flags.DEFINE_list("shares", ["0.3", "0.5", "0.7"], "Shares of task masks of the covering recipe to tabulate.")
_WINDOW = flags.DEFINE_integer("window", 4, "Window T.")
_OUT = flags.DEFINE_string("out", os.path.join("runs", "mask_coverage"), "Output folder.")

# Coverage depends on the modalities present, not their sizes.
SPEC = DatasetSpec(tuple(ModalitySpec(n, CONTINUOUS, 1) for n in ("states", "actions", "returns")))


def recipes() -> dict:
  out = {}
  for model in _MODELS.value:
    c = locomotion.get_config(f"small,hopper,medium,{model}")
    c.window = _WINDOW.value
    if model == "mtm":
      c.masks.tasks, c.masks.weights = locomotion.covering_masks(c.window)
    out[model] = c
  for share in _SHARES.value:
    c = locomotion.get_config("small,hopper,medium")
    c.window = _WINDOW.value
    c.masks.tasks, c.masks.weights = locomotion.covering_masks(c.window, float(share))
    out[f"covering {share}"] = c
  return out


def main():
  tables = {}
  for name, c in recipes().items():
    exp = dataclasses.replace(parse(c), spec=SPEC)
    tables[name] = coverage.TrainingMasks.of(exp).table(coverage.INFERENCE_TASKS)
  rows = list(next(iter(tables.values())))
  names = list(tables)
  lines = [
    "# Mask coverage of the locomotion recipes",
    "",
    f"Made by `python -m experiments.mask_coverage --out=results/mask_coverage` (window T={_WINDOW.value}). Each "
    "cell: the percentage of the recipe's training masks that show exactly the inference mask's visible pattern "
    "and score its targets (exact, `mtm_jax.coverage`). **Bold**: below "
    f"{100 * coverage.COVERED:g} %, a mask the model has (almost) never trained on. `mtm` is the default MTM "
    f"recipe (the covering mixture at share {locomotion.COVERING_SHARE}), `mtm_reference` the reference MTM's "
    "random-autoregressive masks alone, the others specialists on one task's mask.",
    "",
    "| mask | " + " | ".join(names) + " |",
    "|---|" + "---|" * len(names),
  ]
  for row in rows:
    cells = []
    for name in names:
      p = tables[name][row]["probability"]
      cell = f"{100 * p:.2f}"
      cells.append(f"**{cell}**" if p < coverage.COVERED else cell)
    lines.append(f"| {row} | " + " | ".join(cells) + " |")
  lines += [
    "",
    "Masks: `TASK@i` is the mask task TASK of `mtm_jax.masks` at index i (bc/rcbc: the step predicted; "
    "forward/inverse dynamics: s[i]→s[i+1] / a[i]; backwards dynamics: s[i]→s[i-1]; plan_value: the "
    "planner's scoring with states up to i); `imagine` and `imagine_act` are rcbc_imagine's two passes. A "
    "rollout asks bc/rcbc at slot min(t, T-1): after the first T-1 steps always at T-1.",
  ]
  os.makedirs(_OUT.value, exist_ok=True)
  with open(os.path.join(_OUT.value, "README.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  with open(os.path.join(_OUT.value, "coverage.json"), "w") as f:
    json.dump(tables, f, indent=2)
  print("\n".join(lines))
  print(f"wrote {_OUT.value}/README.md and coverage.json")


if __name__ == "__main__":
  cli.run(main)
