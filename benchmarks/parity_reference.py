"""Held-out quality of mtm_jax against the reference PyTorch MTM, both trained on one Minari dataset.

python -m benchmarks.parity_reference [--dataset_id=mtm_jax/halfcheetah-small/medium-v0] [--seeds=3] [--out=runs/parity]
    [--changes=baseline,ratio_per_modality,...] [--asked=library,reference] [--reference=True]
    [--config.train.num_steps=2500 --config.train.warmup_steps=250 ...]

The recipe is MTM's (configs/locomotion.py) at width 128, batch 256, lr 1e-4 with 10 % warmup and
cosine to zero, 2,500 steps: --config overrides any of it. The settings both sides share (width, heads,
layers, dropout, optimiser, steps, batch, keep ratios, mode weights, seed) reach the reference from the
same config; the rest is mtm_jax's alone, so a run that changes only those retrains only mtm_jax.
Both sides train on the same training episodes (the last 10 held out) and returns, and are scored on the same held-out windows
under the same masks (mtm_jax.eval.task_losses' evaluation masks), in raw units: forward dynamics
(next-state MSE) and inverse dynamics, BC and RCBC (action MSE). --asked: the mask sets scored, one table
each: ``library`` (the library's masks: BC and RCBC with history) and ``reference`` (the reference MTM's:
BC and RCBC from the current state alone, inverse dynamics from every state; capabilities.REFERENCE_ASKED).

Needs the reference built beside the project (fetch github:facebookresearch/mtm, then
MIRROR=<its path> ../shared/anchor/build.sh, which makes /tmp/anchor or $ANCHOR); says so when it is missing.
--changes: the mtm_jax variants to train, each a column beside the reference's (CHANGES: each difference
between the two, as the mtm_jax option that adopts the reference's choice; a model of configs/locomotion.py,
such as mtm_reference or the specialist bc, as its differences from the default MTM; covering_S the default's
covering masks at task share S; ``a+b`` adopts several). --reference=False trains mtm_jax's columns alone
(ratios then to the first column).
Re-running resumes: each trained model's errors are kept in OUT/results.json. Prints, per capability, the
reference and every variant with its ratio to the reference: mean and 95 % t-interval over seeds (the
ratio's over per-seed ratios). The two sides take the CPU cores in turn, never at once.
"""

import hashlib
import json
import os
import subprocess
import time

import jax
import minari
import numpy as np
from absl import flags
from ml_collections import config_flags
from scipy import stats as scipy_stats

from configs import locomotion
from experiments import cli
from mtm_jax import runtime
from mtm_jax.checkpoint import load_checkpoint
from mtm_jax.data import writer
from mtm_jax.data.splits import prepare_data
from mtm_jax.errors import UserError
from mtm_jax.eval import capabilities
from mtm_jax.experiment import parse
from mtm_jax.predict import make_predict
from mtm_jax.train import train_and_evaluate
from studies import harness
from studies.report import markdown_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANCHOR = os.environ.get("ANCHOR", "/tmp/anchor")
TORCH_SIDE = os.path.join(ROOT, "benchmarks", "parity_reference_torch.py")
CAPABILITIES = capabilities.CAPABILITIES
MODALITIES = ("states", "actions", "returns")


def recipe():
  c = locomotion.get_config("scale=small,env=halfcheetah,level=medium")
  c.model.width, c.train.batch_size = 128, 256  # the comparison's size (issue 17), wider than the small study's
  c.data.num_validation = 10  # the last 10 episodes held out, as in the comparison
  c.train.learning_rate = 1e-4
  c.train.num_steps, c.train.warmup_steps = 2500, 250
  c.train.checkpoint_every, c.train.log_every = 2500, 250
  c.train.tensorboard = False
  c.eval.tasks = tuple(CAPABILITIES)
  c.eval.num_windows = 2048
  return c


_CONFIG = config_flags.DEFINE_config_dict("config", recipe(), "The recipe; override with --config.KEY=VALUE.")
_DATASET = flags.DEFINE_string("dataset_id", None, "Minari dataset (default the recipe's, mtm_jax/halfcheetah-small/medium-v0).")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Training seeds (0, 1, ...) of each side.")
_OUT = flags.DEFINE_string("out", os.path.join("runs", "parity"), "Models, exchange files and results.json.")
# Each difference from the reference (issue 17) as the mtm_jax option that adopts the reference's choice.
CHANGES = {
  "baseline": {},
  # The reference's masks alone (random-autoregressive; configs/locomotion.py's mtm_reference), against
  # the default's mixture that covers every inference mask (issue 29)
  "reference_masks": {"train.regime": "random_autoregressive", "masks.tasks": ("random_autoregressive",), "masks.weights": ()},
  "ratio_per_modality": {"masks.task_params.random_autoregressive.ratio_per_modality": True},
  "mask_per_batch": {"train.mask_granularity": "batch", "masks.task_params.random_autoregressive.ensure_visible": False},
  "torch_dropout": {"model.dropout_placement": "torch"},
  "zero_tokens": {"model.token_init": "zeros"},
  "decoder_embed_per_modality": {"model.decoder_embed": "per_modality"},
  "reference_normalisation": {"data.unscaled_below_std": 0.1},
  # The recipe already initialises as PyTorch does (issue 17 found that difference): this column is
  # mtm_jax's former default, flax's initialisers, kept to show what it cost.
  "flax_init": {"model.param_init": "flax"},
}
_CHANGES = flags.DEFINE_list(
  "changes",
  ["baseline"],
  f"mtm_jax variants, each a column: of {list(CHANGES)}, a "
  "configs/locomotion.py MODEL, covering_SHARE, or several joined by '+'.",
)
_ASKED = flags.DEFINE_list("asked", ["library", "reference"], "Mask sets to score under (capabilities.ASKED).")
_REFERENCE = flags.DEFINE_bool("reference", True, "Train the reference MTM beside mtm_jax's columns.")


def _flat(c) -> dict:
  out = {}
  for key, value in c.items():
    if hasattr(value, "items"):
      out.update({f"{key}.{k}": v for k, v in _flat(value).items()})
    else:
      out[key] = value
  return out


def overrides(part: str, window: int) -> dict | None:
  """The config overrides of one change: a CHANGES entry, a locomotion MODEL's differences from the default
  MTM, or covering_SHARE (the default's covering masks at that task share)."""
  if part in CHANGES:
    return CHANGES[part]
  if part in locomotion.MODELS:
    default, model = (_flat(locomotion.get_config(f"small,halfcheetah,medium{m}")) for m in ("", f",{part}"))
    return {k: v for k, v in model.items() if default.get(k) != v and not k.startswith("data.")}
  if not part.startswith("covering_"):
    return None
  try:
    share = float(part.removeprefix("covering_"))
  except ValueError:
    return None
  return {"masks.weights": locomotion.covering_masks(window, share)[1]}


def configure(base, change: str, seed: int):
  c = base.copy_and_resolve_references()
  c.seed = seed
  for part in change.split("+"):
    c.update_from_flattened_dict(overrides(part, c.window))
  return c


def shared(c) -> dict:
  """The settings the reference side takes from the config."""
  ra = c.masks.task_params.random_autoregressive
  return {
    "dataset_id": c.data.dataset_id,
    "num_train": c.data.num_train,
    "train_steps": c.data.train_steps,
    "num_validation": c.data.num_validation,
    "validation_fraction": c.data.validation_fraction,
    "returns": c.data.returns,
    "window": c.window,
    "width": c.model.width,
    "num_heads": c.model.num_heads,
    "encoder_layers": c.model.encoder_layers,
    "decoder_layers": c.model.decoder_layers,
    "dropout": c.model.dropout,
    "learning_rate": c.train.learning_rate,
    "weight_decay": c.train.weight_decay,
    "warmup_steps": c.train.warmup_steps,
    "num_steps": c.train.num_steps,
    "batch_size": c.train.batch_size,
    "keep_ratios": list(ra.keep_ratios),
    "mode_weights": list(ra.mode_weights),
    "seed": c.seed,
    "tasks": [f"{a}:{t}" for a in _ASKED.value for t in CAPABILITIES],
    "eval_windows": c.eval.num_windows,
    "eval_seed": c.eval.seed,
  }


def digest(value) -> str:
  return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


def held_out(c):
  """(spec, train WindowData, {asked: HeldOut}) as the mtm_jax run sees them: the same windows, each mask set."""
  exp = parse(c)
  spec, train, val, _ = prepare_data(exp.data, exp.window)
  if tuple(m.name for m in spec) != MODALITIES or any(m.is_discrete for m in spec):
    raise UserError(
      f"{c.data.dataset_id}: the reference side takes continuous states, actions and returns; "
      f"this dataset has {[m.name for m in spec]}"
    )
  return spec, train, {a: capabilities.held_out(spec, val, exp, asked=a) for a in _ASKED.value}


def train_ours(c, workdir, held) -> dict:
  started = time.perf_counter()
  train_and_evaluate(c, workdir)
  seconds = time.perf_counter() - started
  ckpt = load_checkpoint(workdir)
  params = jax.tree_util.tree_map(jax.numpy.asarray, ckpt.params)
  predict = jax.jit(make_predict(ckpt.config))
  errors = {a: capabilities.mse(capabilities.predict_tasks(predict, params, h, MODALITIES), h) for a, h in held.items()}
  return {**errors, "train_seconds": seconds}


def reference_python() -> str:
  python = os.path.join(ANCHOR, "venv", "bin", "python")
  if not (os.path.isfile(python) and os.path.isdir(os.path.join(ANCHOR, "research", "mtm"))):
    raise UserError(
      f"the reference MTM is not built at {ANCHOR}: run fetch github:facebookresearch/mtm, then "
      "MIRROR=<the path it printed> ../shared/anchor/build.sh (or set ANCHOR to where it is)"
    )
  return python


def train_reference(python, c, stem, train, held) -> dict:
  real = np.asarray(train.present["states"])
  exchange = {"config": json.dumps(shared(c)), "train_real": real, "train_starts": np.asarray(train.starts)}
  exchange.update({f"train_{m}": np.asarray(train.flat[m]) for m in MODALITIES})
  batch = next(iter(held.values())).batch  # every mask set scores the same windows
  exchange.update({f"eval_{m}": np.asarray(batch["traj"][m]) for m in MODALITIES})
  exchange.update(
    {f"visible_{a}:{t}_{m}": np.asarray(v[m]) for a, h in held.items() for t, (v, _) in h.masks.items() for m in MODALITIES}
  )
  np.savez(stem + ".in.npz", **exchange)
  env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(ANCHOR, "stubs"), ANCHOR])}
  result = subprocess.run([python, TORCH_SIDE, stem + ".in.npz", stem + ".out.npz"], stderr=subprocess.PIPE, text=True, env=env)
  if result.returncode:
    raise RuntimeError(f"the reference side failed:\n{result.stderr[-3000:]}")
  out = np.load(stem + ".out.npz")
  errors = {
    a: capabilities.mse({t: {m: out[f"{a}:{t}_{m}"] for m in MODALITIES} for t in CAPABILITIES}, h) for a, h in held.items()
  }
  return {**errors, "train_seconds": float(out["train_seconds"])}


def interval(values) -> str:
  values = np.asarray(values, np.float64)
  if len(values) < 2:
    return f"{values.mean():.4g}"
  half = scipy_stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
  return f"{values.mean():.4g} ± {half:.2g}"


def main():
  unknown = [c for c in _CHANGES.value if any(overrides(part, 4) is None for part in c.split("+"))]
  if unknown:
    raise UserError(
      f"unknown change(s) {unknown}; choose from {list(CHANGES)}, a configs/locomotion.py MODEL "
      f"{list(locomotion.MODELS)} or covering_SHARE, or several joined by '+'"
    )
  bad = sorted(set(_ASKED.value) - set(capabilities.ASKED))
  if bad or not _ASKED.value:
    raise UserError(f"--asked {_ASKED.value}: choose from {capabilities.ASKED}")
  base = _CONFIG.value
  if _DATASET.value:
    base.data.dataset_id = _DATASET.value
  if not base.data.download and base.data.dataset_id not in minari.list_local_datasets():
    raise UserError(
      f"no local Minari dataset {base.data.dataset_id!r}: make it with python -m experiments.make_dataset "
      "locomotion --env=halfcheetah, or pass --dataset_id"
    )
  python = reference_python() if _REFERENCE.value else None  # before training anything
  data_checksum = (writer.provenance(base.data.dataset_id) or {}).get("checksum")  # None: a downloaded set
  out = _OUT.value
  os.makedirs(os.path.join(out, "exchange"), exist_ok=True)
  cached = os.path.join(out, "results.json")
  results = harness.read_results(cached)
  sides = (("reference",) if _REFERENCE.value else ()) + tuple(_CHANGES.value)
  runs = {side: [] for side in sides}
  data = None  # held_out's result: the data and masks do not depend on the seed or the change, so loaded once
  asked = ",".join(_ASKED.value)
  for seed in range(_SEEDS.value):
    configs = {change: configure(base, change, seed) for change in _CHANGES.value}
    first = next(iter(configs.values()))
    # mtm_jax's variants first: a session that ends mid-seed keeps the most. The data's checksum is in every
    # key: a dataset made again under the same id (SAC does not reproduce across machines) is other data.
    keys = {change: f"ours|{digest([c.to_dict(), data_checksum])}|{asked}" for change, c in configs.items()}
    if _REFERENCE.value:
      keys["reference"] = f"reference|{digest([shared(first), data_checksum])}"
    if any(key not in results for key in keys.values()):
      data = data or held_out(first)
      _, train, held = data
      for side, key in keys.items():
        if key in results:
          continue
        print(f"seed {seed}: training {side}", flush=True)
        name = f"{side}-seed{seed}-{key.split('|')[1]}"
        results[key] = (
          train_reference(python, first, os.path.join(out, "exchange", name), train, held)
          if side == "reference"
          else train_ours(configs[side], os.path.join(out, "models", name), held)
        )
        runtime.replace_text(cached, json.dumps(results, indent=2))  # a killed write never replaces the good cache
    for side, key in keys.items():
      runs[side].append(results[key])
  against = sides[0]
  print(
    f"{base.data.dataset_id}, {base.train.num_steps} steps, batch {base.train.batch_size}, {_SEEDS.value} seed(s); "
    "held-out MSE in raw units (lower is better), mean ± 95 % interval over seeds; (x): the column over "
    f"{against}, over per-seed ratios"
  )
  for mask_set in _ASKED.value:
    print(f"\nunder the {mask_set}'s masks:")
    table = []
    for task in CAPABILITIES:
      theirs = [r[mask_set][task] for r in runs[against]]
      row = [task, interval(theirs)]
      for side in sides[1:]:
        if locomotion.specialist_task(side) not in (None, task):  # a specialist is scored on its own capability alone
          row.append("·")
          continue
        ours = [r[mask_set][task] for r in runs[side]]
        row.append(f"{interval(ours)} ({interval(np.divide(ours, theirs))}x)")
      table.append(row)
    print(markdown_table(["capability", *sides], table))
  # mtm_jax's includes loading the data and compiling; not a throughput figure (benchmarks/train_throughput.py is).
  print(
    "training wall time, s: " + ", ".join(f"{side} {interval([r['train_seconds'] for r in rs])}" for side, rs in runs.items())
  )


if __name__ == "__main__":
  cli.run(main)
