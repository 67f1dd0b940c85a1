"""The one harness under every study: an output folder at a named scale, models trained if missing, measurements
cached in ``OUT/results.json``, wall time per part, and the report with the config of every model it uses.

A study holds a ``Harness`` and names its models and measurements: a model trains in ``OUT/models/NAME`` (and
resumes there) when a measurement not yet cached reads it, a measurement is cached under its key, so a re-run,
an invocation beside it in the same folder, or one on another machine given only the cache, does only what is
missing. ``report.md`` comes with ``OUT/configs/NAME.json`` for each model it uses,
so a copy of the folder carries what re-runs every number in it.
"""

import contextlib
import fcntl
import functools
import json
import os
import time
import uuid
from collections.abc import Callable

from mtm_jax import runtime
from mtm_jax.checkpoint import latest_step
from mtm_jax.errors import UserError
from mtm_jax.experiment import parse
from mtm_jax.train import train_and_evaluate
from studies.report import markdown_table


class OtherData(UserError):
  """A model cached as trained on another realization of its data is needed where its cache cannot serve."""


class Trained:
  """A study's model by name; reading ``workdir`` trains it first (or resumes its training) where it is not
  finished, and ``folder`` is where it is, or will be, without training it."""

  def __init__(self, name: str, folder: str, train: Callable[[], None]):
    self.name, self.folder, self._train = name, folder, train

  @property
  def workdir(self) -> str:
    if self._train is not None:
      self._train()
      self._train = None
    return self.folder


def echo(line: str) -> None:
  """The studies' default log: one line, flushed, so that progress reads live through a pipe."""
  print(line, flush=True)


def read_results(path: str) -> dict:
  """The results a previous invocation cached at ``path`` (a JSON object), or {} on a first run."""
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f)


def as_trained(c, seed: int, init_from: str | None = None):
  """A model's config (its recipe at the study's scale: configs/ hold every size) as the study trains it:
  seeded, one checkpoint at the end (a study reads finished models only), a finetune from ``init_from``."""
  c.seed = seed
  c.train.checkpoint_every = c.train.num_steps
  if init_from:
    c.train.init_from = init_from
  return c


class Harness:
  """A study's folder ``out`` at ``scale`` (a name of ``scales``).

  settings: what else the cached models and measurements depend on (a study's data options), guarded with the
  scale's: a folder written at other settings is refused. keyed: the scale's entries that every name they
  reach encodes (a model's name, a measurement's key), so other values of them only add entries: a folder
  written at other values of these alone is kept, and its recorded settings become these.
  """

  def __init__(self, out: str, scale: str, scales: dict, settings: dict | None = None, log: Callable = echo, keyed: tuple = ()):
    if scale not in scales:
      raise UserError(f"unknown scale {scale!r}; choose from {list(scales)}")
    self.out, self.scale_name, self.scale, self.log = out, scale, dict(scales[scale]), log
    self.cache = os.path.join(out, "results.json")
    self.results = read_results(self.cache)
    # Models and measurements are cached by name: other settings in the same folder would mix in.
    recorded = json.loads(json.dumps({**self.scale, **(settings or {})}))
    unkeyed = {k: v for k, v in self.results.setdefault("settings", recorded).items() if k not in keyed}
    if unkeyed != {k: v for k, v in recorded.items() if k not in keyed}:
      raise UserError(
        f"{self.cache} was written at other settings ({self.results['settings']}); use a fresh --out for these ({recorded})"
      )
    self.results["settings"] = recorded
    self.results.setdefault("models", {})  # name -> the recipe (RECIPE_KEYS) its cached measurements are of
    if not self.results["models"] and any("|" in key for key in self.results):
      log(
        f"notice: {self.cache} records no model recipes (it was written before they were recorded): its cached "
        "measurements are read as of the models' current recipes"
      )
    os.makedirs(out, exist_ok=True)
    # part -> seconds this invocation spent; every invocation's are kept under its own id in the cache
    self.wall = {}
    self.invocation = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {uuid.uuid4().hex[:8]}"
    self.configs = {}  # name -> resolved config of each model (and agent) this invocation's report uses

  def workdir(self, name: str) -> str:
    return os.path.join(self.out, "models", name)

  def model(self, part: str, name: str, config, announce: str = "", data: str | None = None, derived: tuple = ()) -> Trained:
    """Model ``name`` of ``config``, trained (or its training resumed) when its workdir is first read: a
    measurement cached in results.json needs no model. So a copy of a folder's results.json (committed under
    results/, say) resumes its study on a fresh machine: every cached measurement is read back, and only the
    models of what is missing train. The cache records each model's recipe (RECIPE_KEYS) once it is trained or
    found finished, and refuses a model of another recipe under that name. ``announce`` is logged before it
    trains. data: what identifies the data's content (a checksum), recorded with the recipe: a dataset made
    again from its command may differ (another machine's floating point, other library versions): another
    realization of its protocol. A cached model of another realization, whose recipe differs only in the
    checksum and in ``derived`` (the data keys that follow from the data's content, as the held-out episodes'
    count), keeps its cached measurements, so a study pools seeds over sessions on machines that each made the
    data again (``realization`` says which data a model is of); a measurement of it that is not cached is
    refused where it would need the model, which cannot be trained again on data this machine does not have."""
    resolved = parse(config, training=False).to_dict()
    recipe = json.loads(json.dumps({section: resolved[section] for section in RECIPE_KEYS}))
    sections = RECIPE_KEYS
    if data is not None:
      recipe["data_checksum"], sections = data, (*RECIPE_KEYS, "data_checksum")
    if name not in self.results["models"]:  # another invocation may have recorded it since this one read the cache
      self._merge()
    stored = self.results["models"].get(name)
    if stored is not None and _other_realization(stored, recipe, derived):
      self.uses(name, {**resolved, "data": {**resolved["data"], **{key: stored["data"][key] for key in derived}}})
      return Trained(name, self.workdir(name), functools.partial(_on_other_data, self.cache, name, stored, data))
    if stored is not None:  # its cached measurements were taken of a model of this recipe
      _same_training(stored, recipe, f"{self.cache} holds measurements of a model {name}", sections)
    elif self._check_finished(name, config, resolved):  # a folder from before recipes were recorded
      self._record(name, recipe)
    self.uses(name, resolved)

    def train() -> None:
      workdir = self.workdir(name)
      # Invocations side by side may need one model (versatility's and efficiency's Hopper expert MTM, say):
      # under this lock one trains it and the other waits, then reads it back, instead of both writing it.
      with self.locked(name):
        if not self._check_finished(name, config, resolved):  # a finished model is not even rebuilt
          if announce:
            self.log(announce)
          started = time.time()
          train_and_evaluate(config, workdir)
          self.spent(part, started)
      self._record(name, recipe)

    return Trained(name, self.workdir(name), train)

  @contextlib.contextmanager
  def locked(self, name: str):
    """Holds the folder's lock ``name`` (the other invocations into the folder that ask for it wait)."""
    locks = os.path.join(self.out, "locks")
    os.makedirs(locks, exist_ok=True)
    with open(os.path.join(locks, name), "w") as lock:
      fcntl.flock(lock, fcntl.LOCK_EX)
      yield

  def realization(self, name: str) -> str | None:
    """The checksum of the data model ``name`` trained on, as the cache records it (None: not recorded)."""
    return self.results["models"].get(name, {}).get("data_checksum")

  def _record(self, name: str, recipe: dict) -> None:
    if self.results["models"].get(name) != recipe:
      self.results["models"][name] = recipe
      self._save()

  def _check_finished(self, name: str, config, resolved: dict) -> bool:
    """Whether model ``name`` is finished; a finished one of another recipe is refused."""
    workdir = self.workdir(name)
    if latest_step(workdir) != config.train.num_steps:
      return False
    with open(os.path.join(workdir, "config.json")) as f:
      _same_training(json.load(f), resolved, f"{workdir} holds a model")
    return True

  def trained(self, part: str, name: str, config, announce: str = "") -> str:
    """The workdir of model ``name``, trained on ``config`` (or its training resumed) if it is not finished."""
    return self.model(part, name, config, announce).workdir

  def uses(self, name: str, config: dict) -> None:
    """Records that the report uses model (or agent) ``name``, resolved to ``config`` (JSON-ready values)."""
    self.configs[name] = config

  def measured(self, key: str, compute: Callable):
    """The cached measurement ``key``, computed (and cached) where no invocation into this folder has made it."""
    if key not in self.results:  # another invocation may have measured it since this one read the cache
      self._merge()
    if key not in self.results:
      self.results[key] = compute()
      self._save()
    return self.results[key]

  def spent(self, part: str, started: float) -> None:
    """Adds the seconds since ``started`` to this invocation's wall time of ``part``."""
    self.wall[part] = self.wall.get(part, 0.0) + time.time() - started
    self._save()  # so the wall time survives a killed invocation

  def _save(self) -> None:
    """Writes the cache, merged with what other invocations into this folder (say, one per environment, run
    side by side) wrote since this one read it: under a lock, so neither loses the other's measurements."""
    with open(self.cache + ".lock", "w") as lock:
      fcntl.flock(lock, fcntl.LOCK_EX)
      self._merge()
      runtime.replace_text(self.cache, json.dumps(self.results, indent=1))

  def _merge(self) -> None:
    """Adds what other invocations cached in this folder since this one read it (their measurements, models'
    recipes and wall times) to this one's results."""
    on_disk = read_results(self.cache)
    models = {**on_disk.get("models", {}), **self.results.get("models", {})}
    wall = {**on_disk.get("wall_seconds", {}), self.invocation: self.wall}  # each invocation writes only its own
    self.results = {**on_disk, **self.results, "models": models, "wall_seconds": wall}

  def wall_time(self, started: float) -> list[str]:
    """The report's wall-time section: each part's time in this invocation (begun at ``started``) and in all."""
    summed = {}
    for spent in read_results(self.cache).get("wall_seconds", {}).values():
      for part, seconds in spent.items():
        summed[part] = summed.get(part, 0.0) + seconds
    rows = [[part, f"{self.wall.get(part, 0.0) / 60:.1f} min", f"{seconds / 60:.1f} min"] for part, seconds in summed.items()]
    return [
      "## Wall time",
      markdown_table(["part", "this invocation", "all invocations"], rows),
      f"This invocation took {(time.time() - started) / 60:.1f} min in all; cached models and measurements "
      "are read back, not redone. The last column sums the work of every invocation into this folder "
      "(training and measuring; a killed invocation's unfinished model is not counted).",
    ]

  def write_report(self, sections: list[str]) -> str:
    """``OUT/report.md`` of ``sections``, and ``OUT/configs/NAME.json`` for each model it uses (only those); its path.
    Under the folder's report lock: an invocation side by side writes its report (the last one written stands)
    before or after, never among this one's files."""
    folder = os.path.join(self.out, "configs")
    os.makedirs(folder, exist_ok=True)
    files = {f"{name}.json": config for name, config in self.configs.items()}
    with self.locked("report"):
      for stale in set(os.listdir(folder)) - set(files):  # an earlier report's models that this one does not use
        os.remove(os.path.join(folder, stale))
      for file, config in files.items():
        runtime.replace_text(os.path.join(folder, file), json.dumps(config, indent=2))
      path = os.path.join(self.out, "report.md")
      runtime.replace_text(path, "\n\n".join(sections) + "\n")
    return path


# What makes a model's weights: a finished model trained with other values of these is another model.
TRAINING_KEYS = ("seed", "window", "model", "masks", "train")
# What a model's cached measurements depend on besides: its data (the held-out episodes too) and evaluations.
RECIPE_KEYS = (*TRAINING_KEYS, "data", "eval")


def _same_training(stored: dict, resolved: dict, what: str, sections: tuple = TRAINING_KEYS) -> None:
  """Refuses (one line) a model whose ``stored`` config (a finished model's, or the recipe a cache recorded)
  differs from ``resolved`` in ``sections``: a study whose recipe changed would otherwise report the old model
  under the new recipe. what: the model, for the message."""
  fresh, changed = json.loads(json.dumps(resolved)), []
  for section in sections:
    new, old = fresh[section], stored.get(section)
    if isinstance(new, dict):
      changed += [f"{section}.{key}" for key in new if (old or {}).get(key) != new[key]]
    elif old != new:
      changed.append(section)
  if changed:
    raise UserError(f"{what} trained with other {', '.join(changed)}; use a fresh --out for this recipe")


def _other_realization(stored: dict, recipe: dict, derived: tuple) -> bool:
  """Whether a cached model's ``stored`` recipe is ``recipe`` on another realization of its data: another checksum,
  and nothing else different but the ``derived`` data keys."""
  if recipe.get("data_checksum") is None or stored.get("data_checksum") in (None, recipe["data_checksum"]):
    return False
  data = {**recipe["data"], **{key: stored["data"].get(key) for key in derived}}
  return {**recipe, "data": data, "data_checksum": stored["data_checksum"]} == stored


def _on_other_data(cache: str, name: str, stored: dict, data: str) -> None:
  """Refuses (one line) to train, or read, model ``name`` of another realization of its data."""
  raise OtherData(
    f"{cache} holds model {name} trained on data {stored['data_checksum'][:12]}, where this machine made "
    f"{data[:12]} from the same command: its cached measurements stand, but a measurement of it that is not "
    "cached needs the model, which cannot be trained again on that data here. Redo its seed on this data: remove "
    "that seed's models from the cache's models and their measurements, or use a fresh --out"
  )
