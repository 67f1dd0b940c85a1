"""The MTM paper's study on D4RL-style locomotion: one model against specialists, offline RL, data efficiency,
and, beyond the paper, planning with the same weights (mtm_jax.planning).

Every model is a run of ``configs/locomotion.py`` (passed in as ``get_config``) in its own workdir under
``out/models``; training resumes there, and every measurement is cached in ``out/results.json``, so a
re-run only does what is missing. The measurements, each on episodes or windows the model never trained on:
  rollout scores   D4RL-normalised return of 100 (scale's) episodes from fixed seeds (model_rollouts)
  capability MSE   held-out forward / inverse dynamics error over the data's one-step change (capabilities)
Our primary numbers are honest: the final checkpoint, one return-target rule fixed in advance
(``fraction:1.0``, the best return the training data shows), and beside it the target of the curve chosen on
validation episodes (other seeds than the reported ones). The paper's best-of protocol (the best of six
return targets and two controllers, chosen on the reported episodes) is reported beside them, labelled.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from collections.abc import Callable

import jax
import numpy as np

from mtm_jax import coverage
from mtm_jax.checkpoint import latest_step, load_checkpoint
from mtm_jax.data.splits import prepare_data
from mtm_jax.envs.locomotion import ENVS, LEVELS, dataset_id
from mtm_jax.envs.score import mean_se
from mtm_jax.errors import UserError
from mtm_jax.eval import capabilities, model_rollouts, plots
from mtm_jax.experiment import parse
from mtm_jax.predict import make_predict
from mtm_jax.train import train_and_evaluate
from studies.report import claim_lines, markdown_table, read_results, se_cell

SPECIALIST_TASKS = tuple(capabilities.CAPABILITIES)  # each has a specialist: configs/locomotion.py's MODELS
DYNAMICS = ("forward_dynamics", "inverse_dynamics")
PARTS = ("versatility", "offline_rl", "efficiency", "planning")
VERSATILITY_ENV = "hopper"  # the paper's versatility and data-efficiency tables are on Hopper
PRIMARY_TARGET = "fraction:1.0"
TARGET_FRACTIONS = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1)  # MTM's return targets: min + p (max - min) of the data's
EFFICIENCY_FRACTIONS = (0.95, 0.05, 0.02, 0.01, 0.005)  # the paper's shares of Hopper expert
VALIDATION_EPISODES = 20  # per target, to choose one; fewer where a scale reports fewer

# What the paper measures: its environments and levels, Hopper for versatility and data efficiency.
PROTOCOL = dict(
  envs=("hopper", "halfcheetah", "walker2d"),
  levels=("medium", "medium-replay", "medium-expert"),
  versatility=("expert", "medium-replay"),
  efficiency="expert",
  fractions=EFFICIENCY_FRACTIONS,
  specialists=(*SPECIALIST_TASKS, *(f"mlp_{t}" for t in SPECIALIST_TASKS)),
  targets=TARGET_FRACTIONS,
  episodes=100,
  planner=dict(num_candidates=32, noise=0.1),
)
SCALES = {
  # A tiny pipeline check: one env and level, two models plus the offline-RL and efficiency ones.
  "smoke": dict(
    envs=("hopper",),
    levels=("medium",),
    versatility=("medium",),
    efficiency="medium",
    fractions=(0.95,),
    specialists=("mlp_rcbc",),
    targets=(0.9, 1.0),
    episodes=2,
    planner=dict(num_candidates=4, noise=0.1),
    seeds=dict(versatility=1, offline_rl=1, efficiency=1),
    width=32,
    layers=1,
    heads=2,
    batch=16,
    steps=6,
    warmup=1,
    mlp_hidden=(32, 32),
  ),
  # Sized for a 2-core CPU: Hopper alone (--envs adds walker2d and halfcheetah, whose datasets take about
  # 25 min each to make here), every part, the heteromodal and representation studies' model size. Measured:
  # 91 min for its 65 models and measurements as two invocations side by side (results/mtm_small).
  "small": dict(
    PROTOCOL,
    envs=("hopper",),
    seeds=dict(versatility=2, offline_rl=1, efficiency=2),
    width=64,
    layers=2,
    heads=4,
    batch=128,
    steps=3000,
    warmup=300,
    mlp_hidden=(256, 256),
  ),
  # The paper's recipe (configs/locomotion.py full: width 512, batch 2048, 140k steps), for an accelerator.
  "full": dict(
    PROTOCOL,
    seeds=dict(versatility=4, offline_rl=4, efficiency=4),
    width=512,
    layers=2,
    heads=4,
    batch=2048,
    steps=140_000,
    warmup=40_000,
    mlp_hidden=(1024, 1024),
  ),
}

# The paper's numbers (its authors' table scripts), on D4RL data, not ours: reference rows only.
PAPER_RCBC = {  # D4RL normalised RCBC score, best-of protocol
  ("hopper", "medium"): 64.1,
  ("hopper", "medium-replay"): 92.3,
  ("hopper", "medium-expert"): 110.9,
  ("halfcheetah", "medium"): 43.3,
  ("halfcheetah", "medium-replay"): 42.0,
  ("halfcheetah", "medium-expert"): 91.6,
  ("walker2d", "medium"): 77.0,
  ("walker2d", "medium-replay"): 78.3,
  ("walker2d", "medium-expert"): 109.5,
}
PAPER_VERSATILITY = {  # (env, level): {capability: {column: value}}
  ("hopper", "expert"): {
    "rcbc": {"MTM": 111.0, "MLP": 111.8},
    "forward_dynamics": {"MTM": 0.026, "MLP": 0.063, "specialist": 0.94},
    "inverse_dynamics": {"MTM": 0.028, "MLP": 0.004},
  },
  ("hopper", "medium-replay"): {"bc": {"MTM": 19.8, "specialist": 43.1}},
}
PAPER_EFFICIENCY = {  # Hopper expert RCBC score at each share of the data: (MLP, MTM)
  0.95: (110.7, 110.8),
  0.05: (99.5, 107.0),
  0.02: (81.5, 75.6),
  0.01: (45.4, 73.7),
  0.005: (20.6, 53.1),
}
COLUMNS = {"MTM": "mtm", "specialist": "{task}", "MLP": "mlp_{task}"}  # versatility column -> model name
CAPABILITY_ROWS = {
  "bc": "BC score",
  "rcbc": "RCBC score",
  "inverse_dynamics": "inverse dynamics (MSE / one-step)",
  "forward_dynamics": "forward dynamics (MSE / one-step)",
}


class Study:
  """One study in ``out``: trains what is missing, measures what is not cached, writes ``report.md``.

  get_config: ``configs/locomotion.py``'s ``get_config`` (``VARIANT,ENV,LEVEL,MODEL``).
  """

  scales = SCALES  # a study built on this one brings its own

  def __init__(self, out: str, scale: str, get_config: Callable, envs=None, levels=None, seeds: int = 0, log: Callable = print):
    if scale not in self.scales:
      raise UserError(f"unknown scale {scale!r}; choose from {list(self.scales)}")
    self.out, self.scale_name, self.get_config, self.log = out, scale, get_config, log
    self.scale = dict(self.scales[scale])
    self.envs = tuple(envs or self.scale["envs"])
    self.levels = tuple(levels or self.scale["levels"])
    bad = sorted(set(self.envs) - set(ENVS)) + sorted(set(self.levels) - set(LEVELS))
    if bad:
      raise UserError(f"unknown env or level {bad}; envs are {list(ENVS)}, levels {list(LEVELS)}")
    self.seeds = {part: list(range(seeds or n)) for part, n in self.scale["seeds"].items()}
    self.cache = os.path.join(out, "results.json")
    self.results = read_results(self.cache)
    # Models and measurements are cached by name: another scale's settings in the same folder would mix in.
    settings = json.loads(json.dumps(self.scale))
    if self.results.setdefault("settings", settings) != settings:
      raise UserError(
        f"{self.cache} was written with other scale settings ({self.results['settings']}); use a fresh --out for this scale"
      )
    # part -> seconds this invocation spent; every invocation's are kept under its own id in the cache
    self.wall = {}
    self.invocation = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {uuid.uuid4().hex[:8]}"
    self._held_out = {}

  # -- models ---------------------------------------------------------------------------------------------

  def config(self, env: str, level: str, model: str = "mtm", seed: int = 0, fraction: float = 0.95, returns: str = "average"):
    s = self.scale
    c = self.get_config(f"{self.scale_name},{env},{level},{model}")
    c.seed = seed
    c.model.width, c.model.num_heads, c.model.encoder_layers = s["width"], s["heads"], s["layers"]
    c.model.mlp_hidden = tuple(s["mlp_hidden"])
    c.data.returns = returns
    c.train.batch_size, c.train.num_steps, c.train.warmup_steps = s["batch"], s["steps"], s["warmup"]
    c.train.checkpoint_every = c.train.num_steps
    c.train.log_every = max(1, min(c.train.log_every, c.train.num_steps // 5))
    c.train.tensorboard = False
    total = _total_episodes(env, level, self.scale_name)
    # The last 5 % of the episodes are held out at every share of the data, so every share scores on them.
    c.data.num_validation = max(1, round(0.05 * total))
    if fraction < 0.95:
      c.data.num_train = max(1, min(total - c.data.num_validation, round(fraction * total)))
    return c

  def workdir(self, env, level, model="mtm", seed=0, fraction=0.95, returns="average") -> str:
    name = (
      f"{env}_{level}_{model}"
      + (f"_f{fraction:g}" if fraction != 0.95 else "")
      + ("_sum" if returns == "sum" else "")
      + f"_seed{seed}"
    )
    return os.path.join(self.out, "models", name)

  def trained(self, part: str, *args, **kwargs) -> str:
    """The workdir of a model, trained (or its training resumed) if it is not finished."""
    workdir = self.workdir(*args, **kwargs)
    config = self.config(*args, **kwargs)
    locks = os.path.join(self.out, "locks")
    os.makedirs(locks, exist_ok=True)
    # Invocations side by side may need one model (versatility's and efficiency's Hopper expert MTM, say):
    # under this lock one trains it and the other waits, then reads it back, instead of both writing it.
    with open(os.path.join(locks, os.path.basename(workdir)), "w") as lock:
      fcntl.flock(lock, fcntl.LOCK_EX)
      if latest_step(workdir) == config.train.num_steps:
        return workdir  # finished: not even rebuilt
      started = time.time()
      train_and_evaluate(config, workdir)
      self._spent(part, started)
    return workdir

  def datasets(self) -> set:
    """The (env, level) datasets the study's parts use."""
    needed = {(e, lvl) for e in self.envs for lvl in self.levels}
    return needed | {(VERSATILITY_ENV, lvl) for lvl in (*self.scale["versatility"], self.scale["efficiency"])}

  def ensure_datasets(self) -> None:
    """Makes (SAC, then every D4RL level) each environment whose datasets are missing at the study's scale, then
    checks that every dataset it reads was made by the D4RL protocol at that scale (never silently reused)."""
    import minari

    from mtm_jax.datagen import d4rl_protocol

    local = set(minari.list_local_datasets())
    for env in sorted({e for e, lvl in self.datasets() if dataset_id(e, lvl, self.scale_name) not in local}):
      started = time.time()
      self.log(f"making the {env} datasets ({d4rl_protocol.protocol(self.scale_name)})")
      d4rl_protocol.make(env, self.scale_name, root=os.path.join(self.out, "sac"), progress=False)
      self._spent("datasets", started)
    for env, level in sorted(self.datasets()):
      d4rl_protocol.require(env, level, self.scale_name)

  # -- measurements (cached) --------------------------------------------------------------------------------

  def measured(self, key: str, compute: Callable):
    if key not in self.results:  # another invocation may have measured it since this one read the cache
      self.results = {**read_results(self.cache), **self.results}
    if key not in self.results:
      self.results[key] = compute()
      self._save()
    return self.results[key]

  def _save(self) -> None:
    """Writes the cache, merged with what other invocations into this folder (say, one per environment, run
    side by side) wrote since this one read it: under a lock, so neither loses the other's measurements."""
    os.makedirs(self.out, exist_ok=True)
    with open(self.cache + ".lock", "w") as lock:
      fcntl.flock(lock, fcntl.LOCK_EX)
      on_disk = read_results(self.cache)
      self.results = {**on_disk, **self.results, "wall_seconds": {**on_disk.get("wall_seconds", {}), self.invocation: self.wall}}
      with open(self.cache + ".tmp", "w") as f:
        json.dump(self.results, f, indent=1)
      os.replace(self.cache + ".tmp", self.cache)  # a killed write never replaces the good cache

  def rollout_score(
    self,
    part: str,
    workdir: str,
    task: str,
    target_rule: str = PRIMARY_TARGET,
    planner: dict | None = None,
    validation: bool = False,
  ) -> dict:
    """{"score": [mean, s.e. over episodes], "dataset_score": the data's own, "target", "ms_per_step"}.

    ms_per_step: wall time of one lock-step policy call for every environment, with the environments'
    own steps (and the first call's compilation) included. validation: on VALIDATION_EPISODES episodes whose
    seeds the reported ones never use, to choose a return target by.
    """
    episodes = min(VALIDATION_EPISODES, self.scale["episodes"]) if validation else self.scale["episodes"]
    seed = model_rollouts.VALIDATION_SEED if validation else model_rollouts.EVAL_SEED

    def compute():
      started = time.time()
      out = model_rollouts.score_checkpoint(
        load_checkpoint(workdir), task, episodes, target_rule=target_rule, planner=planner, seed=seed
      )
      self._spent(part, started)
      self.log(
        f"  {os.path.basename(workdir)} {task} {target_rule}{' planned' if planner else ''}"
        f"{' validation' if validation else ''}: score {out['score'][0]:.1f}"
      )
      return {
        "score": out["score"],
        "dataset_score": out["dataset_score"],
        "target": out["target"],
        "ms_per_step": 1e3 * out["seconds"] / out["policy_calls"],
      }

    plan = "" if planner is None else "|plan " + ",".join(f"{k}={v}" for k, v in sorted(planner.items()))
    key = f"rollout|{os.path.basename(workdir)}|{task}|{target_rule}{plan}" + ("|validation" if validation else "")
    return self.measured(key, compute)

  def held_out(self, env: str, level: str):
    """(spec, HeldOut): the windows and masks every model of (env, level) is scored on (the MTM's masks)."""
    if (env, level) not in self._held_out:
      exp = parse(self.config(env, level))
      spec, _, validation, _ = prepare_data(exp.data, exp.window)
      self._held_out[env, level] = spec, capabilities.held_out(spec, validation, exp, DYNAMICS)
    return self._held_out[env, level]

  def capability_errors(self, part: str, workdir: str, env: str, level: str) -> dict:
    """{"mse": {task: raw MSE}, "normalised": {task: MSE / one-step change}} for forward and inverse dynamics."""

    def compute():
      started = time.time()
      spec, held = self.held_out(env, level)
      ckpt = load_checkpoint(workdir)
      params = jax.tree_util.tree_map(jax.numpy.asarray, ckpt.params)
      predictions = capabilities.predict_tasks(jax.jit(make_predict(ckpt.config)), params, held, spec.names)
      errors = capabilities.mse(predictions, held)
      training = coverage.TrainingMasks.of(ckpt.config)
      for task in held.masks:  # the study's masks are the MTM's: a specialist trained on another says so
        notice = training.notice(task, held.params[task], what=f"{os.path.basename(workdir)}'s {task}")
        if notice:
          print(notice)
      self._spent(part, started)
      return {"mse": errors, "normalised": capabilities.relative_to_one_step(errors, held)}

    return self.measured(f"capabilities|{os.path.basename(workdir)}", compute)

  def _spent(self, part: str, started: float) -> None:
    self.wall[part] = self.wall.get(part, 0.0) + time.time() - started
    self._save()  # so the wall time survives a killed invocation

  # -- the parts ---------------------------------------------------------------------------------------------

  def versatility(self, level: str) -> dict:
    """table[capability][column]: (mean, s.e.) or None (not trained at this scale); columns of COLUMNS."""
    env = VERSATILITY_ENV
    values = {task: {col: [] for col in COLUMNS} for task in SPECIALIST_TASKS}
    for seed in self.seeds["versatility"]:
      for column, pattern in COLUMNS.items():
        for task in SPECIALIST_TASKS:
          model = pattern.format(task=task)
          if model != "mtm" and model not in self.scale["specialists"]:
            continue
          workdir = self.trained("versatility", env, level, model, seed)
          if task in ("bc", "rcbc"):
            values[task][column].append(self.rollout_score("versatility", workdir, task)["score"])
          else:
            values[task][column].append(self.capability_errors("versatility", workdir, env, level)["normalised"][task])
    return {task: {col: combine(v) for col, v in cols.items()} for task, cols in values.items()}

  def offline_rl(self, env: str, level: str) -> dict:
    """The MTM's RCBC scores: primary target, the target chosen on validation episodes, DT's rule, rcbc_imagine,
    the paper's best-of, the target curve; "chosen": the validated target p of each seed."""
    rows = {"primary": [], "validated": [], "dt_rule": [], "imagine": [], "best_of": [], **{p: [] for p in self.scale["targets"]}}
    dataset, chosen = None, []
    for seed in self.seeds["offline_rl"]:
      workdir = self.trained("offline RL", env, level, "mtm", seed)
      curve = {p: self.rollout_score("offline RL", workdir, "rcbc", f"fraction:{p}") for p in self.scale["targets"]}
      valid = {
        p: self.rollout_score("offline RL", workdir, "rcbc", f"fraction:{p}", validation=True)["score"][0]
        for p in self.scale["targets"]
      }
      chosen.append(max(valid, key=valid.get))
      rows["validated"].append(curve[chosen[-1]]["score"])
      primary = self.rollout_score("offline RL", workdir, "rcbc")
      imagine = self.rollout_score("offline RL", workdir, "rcbc_imagine")
      summed = self.trained("offline RL", env, level, "mtm", seed, returns="sum")
      dataset = primary["dataset_score"]
      rows["primary"].append(primary["score"])
      rows["imagine"].append(imagine["score"])
      rows["dt_rule"].append(self.rollout_score("offline RL", summed, "rcbc")["score"])
      rows["best_of"].append(max((r["score"] for r in (*curve.values(), imagine)), key=lambda s: s[0]))
      for p, r in curve.items():
        rows[p].append(r["score"])
    out = {k: combine(v) for k, v in rows.items()}
    out["dataset"], out["chosen"] = tuple(dataset), chosen
    return out

  def efficiency(self) -> dict:
    """{share: {"MTM"|"MLP": {"rcbc": (mean, s.e.), "forward_dynamics": (mean, s.e.)}}} on Hopper."""
    env, level = VERSATILITY_ENV, self.scale["efficiency"]
    out = {}
    for fraction in self.scale["fractions"]:
      cells = {col: {"rcbc": [], "forward_dynamics": []} for col in ("MTM", "MLP")}
      for seed in self.seeds["efficiency"]:
        for col, task in (("MTM", "rcbc"), ("MTM", "forward_dynamics"), ("MLP", "rcbc"), ("MLP", "forward_dynamics")):
          workdir = self.trained("data efficiency", env, level, "mtm" if col == "MTM" else f"mlp_{task}", seed, fraction)
          cells[col][task].append(
            self.rollout_score("data efficiency", workdir, task)["score"]
            if task == "rcbc"
            else self.capability_errors("data efficiency", workdir, env, level)["normalised"][task]
          )
      out[fraction] = {col: {k: combine(v) for k, v in d.items()} for col, d in cells.items()}
    return out

  def planning(self, env: str, level: str) -> dict:
    """The offline-RL MTMs with and without planning: scores and wall time per step."""
    plain, planned, ms_plain, ms_planned = [], [], [], []
    for seed in self.seeds["offline_rl"]:
      workdir = self.trained("planning", env, level, "mtm", seed)
      a = self.rollout_score("planning", workdir, "rcbc")
      b = self.rollout_score("planning", workdir, "rcbc", planner=self.scale["planner"])
      plain.append(a["score"])
      planned.append(b["score"])
      ms_plain.append(a["ms_per_step"])
      ms_planned.append(b["ms_per_step"])
    gains = [p[0] - q[0] for p, q in zip(planned, plain)]
    return {
      "plain": combine(plain),
      "planned": combine(planned),
      "gain": mean_se(gains) if len(gains) > 1 else (gains[0], float("nan")),
      "ms_plain": float(np.mean(ms_plain)),
      "ms_planned": float(np.mean(ms_planned)),
    }

  # -- the report --------------------------------------------------------------------------------------------

  def run(self, parts=PARTS) -> str:
    """Runs ``parts`` (of PARTS) and writes ``out/report.md``; returns its path."""
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
      raise UserError(f"unknown study parts {unknown}; choose from {list(PARTS)}")
    started = time.time()
    self.ensure_datasets()
    sections = [f"# The MTM study ({self.scale_name} scale)", self._recipe()]
    if "versatility" in parts:
      for level in self.scale["versatility"]:
        sections += self._versatility_section(level, self.versatility(level))
    if "offline_rl" in parts:
      sections += self._offline_rl_section({(e, lvl): self.offline_rl(e, lvl) for e in self.envs for lvl in self.levels})
    if "efficiency" in parts:
      sections += self._efficiency_section(self.efficiency())
    if "planning" in parts:
      sections += self._planning_section({(e, lvl): self.planning(e, lvl) for e in self.envs for lvl in self.levels})
    return self.write_report(sections, started)

  def report_per_dataset(self, title: str, measure: Callable) -> str:
    """A study of one part per (env, level): report.md of ``self._section(env, level, measure(env, level))``."""
    started = time.time()
    self.ensure_datasets()
    sections = [title, self._recipe()]
    for env in self.envs:
      for level in self.levels:
        sections += self._section(env, level, measure(env, level))
    return self.write_report(sections, started)

  def write_report(self, sections: list, started: float) -> str:
    """``out/report.md``: the sections, then the wall time per part (this invocation's and summed); its path."""
    summed = {}
    for spent in read_results(self.cache).get("wall_seconds", {}).values():
      for part, seconds in spent.items():
        summed[part] = summed.get(part, 0.0) + seconds
    rows = [[part, f"{self.wall.get(part, 0.0) / 60:.1f} min", f"{seconds / 60:.1f} min"] for part, seconds in summed.items()]
    sections = [
      *sections,
      "## Wall time",
      markdown_table(["part", "this invocation", "all invocations"], rows),
      f"This invocation took {(time.time() - started) / 60:.1f} min in all; cached models and measurements "
      "are read back, not redone. The last column sums the work of every invocation into this folder "
      "(training and measuring; a killed invocation's unfinished model is not counted).",
    ]
    path = os.path.join(self.out, "report.md")
    with open(path, "w") as f:
      f.write("\n\n".join(sections) + "\n")
    return path

  def _recipe(self) -> str:
    s = self.scale
    seeds = ", ".join(f"{part} {len(v)}" for part, v in self.seeds.items())
    return (
      f"Our datasets (`experiments/make_dataset.py locomotion`: SAC, D4RL's levels), scored with their own "
      "random and expert references; the paper's numbers are on D4RL data: reference points, not "
      f"comparisons. Models: `configs/locomotion.py` at width {s['width']}, {s['layers']} encoder layer(s) + 1 "
      f"decoder, {s['heads']} heads, batch {s['batch']}, {s['steps']} steps ({s['warmup']} warmup); MLP "
      f"specialists with hidden sizes {tuple(s['mlp_hidden'])}. Seeds: {seeds}. Primary numbers: the final "
      f"checkpoint, the return target `{PRIMARY_TARGET}` fixed in advance, {s['episodes']} episodes per model "
      "and seed. Cells are mean ± s.e. over seeds (over episodes where a part has one seed). The last 5 % "
      "of each dataset's episodes are held out for the dynamics errors."
    )

  def _versatility_section(self, level, table) -> list:
    paper = PAPER_VERSATILITY.get((VERSATILITY_ENV, level), {})
    rows = []
    for task, label in CAPABILITY_ROWS.items():
      fmt = "{:.1f}" if task in ("bc", "rcbc") else "{:.3g}"
      refs = ", ".join(f"{c} {v:g}" for c, v in paper.get(task, {}).items())
      rows.append([label, *[se_cell(table[task][col], fmt) for col in COLUMNS], refs])
    header = ["capability", "MTM (one model)", "specialist transformer", "specialist MLP", "paper (D4RL)"]
    claims = versatility_claims(table, level)
    return [f"## One model against specialists: {VERSATILITY_ENV} {level}", markdown_table(header, rows), claim_lines(claims)]

  def _offline_rl_section(self, results: dict) -> list:
    rows = [
      [
        f"{env} {level}",
        se_cell(r["dataset"]),
        se_cell(r["primary"]),
        se_cell(r["validated"]) + " (p " + ", ".join(f"{p:g}" for p in r["chosen"]) + ")",
        se_cell(r["dt_rule"]),
        se_cell(r["imagine"]),
        se_cell(r["best_of"]),
        f"{PAPER_RCBC[env, level]:g}" if (env, level) in PAPER_RCBC else "",
      ]
      for (env, level), r in results.items()
    ]
    plots.lines(
      os.path.join(self.out, "offline_rl_targets.png"),
      {f"{e} {lvl}": {p: r[p] for p in self.scale["targets"]} for (e, lvl), r in results.items()},
      "return target p: min + p (max - min) of the data's return tokens",
      "normalised score",
      "MTM RCBC score against the return target",
    )
    header = [
      "dataset",
      "behaviour (the data)",
      f"MTM RCBC ({PRIMARY_TARGET})",
      "MTM RCBC (p chosen on validation)",
      "DT rule",
      "rcbc_imagine",
      "best of (labelled: the paper's protocol)",
      "paper (D4RL, best of)",
    ]
    validation = min(VALIDATION_EPISODES, self.scale["episodes"])
    return [
      "## Offline RL: RCBC normalised score",
      markdown_table(header, rows),
      claim_lines(offline_rl_claims(results)),
      "The DT-rule column is a second MTM trained on return-to-go sums; its target, the best return in the "
      "training data, is decremented by the reward received. The other columns hold MTM's average-reward "
      "target constant. The validated column scores, on the reported episodes, the target p of the curve "
      f"below that did best on {validation} validation episodes (seeds the reported episodes never use); "
      "the p chosen for each seed is in brackets. "
      "`rcbc_imagine` is MTM's two-stage control at the primary target. Best-of is the "
      f"best over the {len(self.scale['targets'])} return targets of the curve below and rcbc_imagine, chosen on "
      "the reported episodes (optimistic by construction; the paper also took the best training-time "
      "checkpoint, which we do not).",
      "![targets](offline_rl_targets.png)",
    ]

  def _efficiency_section(self, table: dict) -> list:
    rows = [
      [
        f"{f:.1%}",
        se_cell(c["MTM"]["rcbc"]),
        se_cell(c["MLP"]["rcbc"]),
        se_cell(c["MTM"]["forward_dynamics"], "{:.3g}"),
        se_cell(c["MLP"]["forward_dynamics"], "{:.3g}"),
        "MLP {:g}, MTM {:g}".format(*PAPER_EFFICIENCY[f]) if f in PAPER_EFFICIENCY else "",
      ]
      for f, c in table.items()
    ]
    plots.lines(
      os.path.join(self.out, "data_efficiency.png"),
      {col: {f: c[col]["rcbc"] for f, c in table.items()} for col in ("MTM", "MLP")},
      "share of the training episodes",
      "RCBC normalised score",
      "Data efficiency",
      log_x=True,
    )
    header = [
      "share of the data",
      "MTM RCBC",
      "MLP RCBC",
      "MTM forward dyn. (MSE / one-step)",
      "MLP forward dyn.",
      "paper RCBC (D4RL Hopper expert)",
    ]
    return [
      f"## Data efficiency: {VERSATILITY_ENV} {self.scale['efficiency']}",
      markdown_table(header, rows),
      claim_lines(efficiency_claims(table)),
      "![efficiency](data_efficiency.png)",
    ]

  def _planning_section(self, results: dict) -> list:
    p = self.scale["planner"]
    rows = [
      [
        f"{env} {level}",
        se_cell(r["plain"]),
        se_cell(r["planned"]),
        se_cell(r["gain"], "{:+.1f}"),
        f"{r['ms_plain']:.1f}",
        f"{r['ms_planned']:.1f}",
      ]
      for (env, level), r in results.items()
    ]
    header = ["dataset", "RCBC", "RCBC + planning", "gain", "ms / step (RCBC)", "ms / step (planning)"]
    return [
      "## Beyond the paper: planning with the same weights",
      f"Model-predictive control with no new training (`mtm_jax.planning`): at each step {p['num_candidates']} "
      "candidate action sequences for the rest of the window, around the model's RCBC proposal (Gaussian, "
      f"std {p['noise']} of the action half-range; the proposal itself is one), each scored by the return the "
      "same model predicts for it at the current step (states so far and the candidate's actions visible, "
      "returns hidden); the best one's first action is executed. Same models, targets and episodes as the "
      "offline-RL primary column. A step's time covers one batched policy call for all "
      f"{min(50, self.scale['episodes'])} environments and their own steps.",
      markdown_table(header, rows),
      claim_lines(planning_claims(results)),
    ]


def combine(values: list):
  """(mean, s.e.) over seeds of per-seed values (floats, or [mean, s.e.] rollout scores); with one seed, a rollout
  score keeps its s.e. over episodes; None for no values."""
  if not values:
    return None
  if len(values) == 1 and np.ndim(values[0]) == 1:
    return tuple(float(v) for v in values[0])
  return mean_se([v[0] if np.ndim(v) == 1 else v for v in values])


def versatility_claims(table: dict, level: str) -> list:
  """(claim, holds, evidence) for the paper's pattern on one dataset's versatility table."""

  def best(task, pick):
    cells = [table[task][c][0] for c in ("specialist", "MLP") if table[task][c] is not None]
    return pick(cells) if cells and table[task]["MTM"] is not None else None

  out = []
  mtm = {task: table[task]["MTM"][0] if table[task]["MTM"] else None for task in SPECIALIST_TASKS}
  if (b := best("rcbc", max)) is not None:
    out.append(
      (
        "RCBC at or near the best specialist (within 5 points)",
        mtm["rcbc"] >= b - 5,
        f"MTM {mtm['rcbc']:.1f}, best specialist {b:.1f}",
      )
    )
  if (b := best("forward_dynamics", min)) is not None:
    out.append(
      ("best on forward dynamics", mtm["forward_dynamics"] <= b, f"MTM {mtm['forward_dynamics']:.3g}, best specialist {b:.3g}")
    )
  if (b := best("inverse_dynamics", min)) is not None:
    out.append(
      (
        "worse than a specialist on inverse dynamics",
        mtm["inverse_dynamics"] > b,
        f"MTM {mtm['inverse_dynamics']:.3g}, best specialist {b:.3g}",
      )
    )
  if "replay" in level and (b := best("bc", max)) is not None:
    out.append(("weak on BC from mixed-quality data", mtm["bc"] < b, f"MTM {mtm['bc']:.1f}, best specialist {b:.1f}"))
  return out


def offline_rl_claims(results: dict) -> list:
  """(claim, holds, evidence): does MTM's RCBC, at the target fixed in advance and at the validated one, score
  above the behaviour that made each dataset (the point of offline RL; the paper's rows are on other data)."""
  out = []
  for (env, level), r in results.items():
    for column, label in (("primary", f"at {PRIMARY_TARGET}"), ("validated", "at the validated target")):
      out.append(
        (
          f"RCBC {label} beats the data's behaviour on {env} {level}",
          r[column][0] > r["dataset"][0],
          f"{r[column][0]:.1f} against {r['dataset'][0]:.1f}",
        )
      )
  return out


def efficiency_claims(table: dict) -> list:
  """(claim, holds, evidence) for the paper's data-efficiency finding: MTM's RCBC at or above the MLP's on the
  smallest shares (the paper: at 5 %, 1 % and 0.5 %, not at 2 %), and its forward dynamics better at every share."""
  out = []
  for f, c in table.items():
    mtm, mlp = c["MTM"]["rcbc"], c["MLP"]["rcbc"]
    if f <= 0.05 and mtm is not None and mlp is not None:
      out.append(
        (f"MTM's RCBC at or above the MLP's on {f:.1%} of the data", mtm[0] >= mlp[0], f"{mtm[0]:.1f} against {mlp[0]:.1f}")
      )
  fd = [
    (f, c["MTM"]["forward_dynamics"][0], c["MLP"]["forward_dynamics"][0])
    for f, c in table.items()
    if c["MTM"]["forward_dynamics"] is not None and c["MLP"]["forward_dynamics"] is not None
  ]
  if fd:
    out.append(
      (
        "MTM's forward dynamics better than the MLP's at every share",
        all(m < p for _, m, p in fd),
        ", ".join(f"{f:.1%}: {m:.3g} against {p:.3g}" for f, m, p in fd),
      )
    )
  return out


def planning_claims(results: dict) -> list:
  """(claim, holds, evidence): does planning with the model beat its plain RCBC on each dataset."""
  return [
    (f"planning beats plain RCBC on {env} {level}", r["gain"][0] > 0, f"gain {se_cell(r['gain'], '{:+.1f}')} points")
    for (env, level), r in results.items()
  ]


def _total_episodes(env: str, level: str, scale: str) -> int:
  import minari

  return minari.load_dataset(dataset_id(env, level, scale)).total_episodes
