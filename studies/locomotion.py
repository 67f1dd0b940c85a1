"""What the locomotion studies (MTM, heteromodal, representation) share on the harness: their models, each a run
of ``configs/locomotion.py`` in ``OUT/models``, their datasets, and the measurements they take of a model, each on
episodes or windows it never trained on:
  rollout scores   D4RL-normalised return of the scale's episodes from fixed seeds (model_rollouts)
  capability MSE   held-out forward / inverse dynamics error over the data's one-step change (capabilities)
  planner ranking  whether a planner's values order its candidates as the returns they earn do (planner_ranking)
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable

import jax
import numpy as np

from configs import locomotion as locomotion_config
from mtm_jax import coverage, run_log
from mtm_jax.checkpoint import load_checkpoint
from mtm_jax.data import writer
from mtm_jax.data.splits import prepare_data
from mtm_jax.datagen import d4rl_protocol
from mtm_jax.envs import score
from mtm_jax.envs.locomotion import ENVS, LEVELS, dataset_id
from mtm_jax.errors import UserError
from mtm_jax.eval import capabilities, expert_gap, model_rollouts, planner_ranking
from mtm_jax.experiment import parse
from mtm_jax.predict import make_predict
from studies import harness
from studies.report import SeedCell, cell_text, over_seeds

DYNAMICS = ("forward_dynamics", "inverse_dynamics")
# The level whose data one expert sampled: there a BC or RCBC model's actions are also set against that expert's
# (expert_gap), on held-out states and on its own rollouts', to show compounding error.
EXPERT_GAP_LEVEL = "expert"
GAP_ROWS = {
  "held_out": "on held-out states, the data's history",
  "own_early": f"on its own rollouts' first {expert_gap.EARLY_STEPS} steps",
  "own": "on its own rollouts' states",
  "growth": "growth (own / held-out)",
}
CURVE_POINTS = 10  # held-out evaluations per training run (eval.every): every model's learning curve
PRIMARY_TARGET = "start:1.0"  # what the best training episode holds from its start: fixed in advance
VALIDATION_EPISODES = 20  # per target, to choose one; fewer where a scale reports fewer
DERIVED = ("num_validation", "train_steps")  # a model's data keys that follow from its dataset's content (config)
ALL_TRAINING = 0.95  # the share of a dataset that is every training episode: the last 5 % are held out
# The data's best episodes: on data of mixed quality (medium-replay, medium-expert) whether return conditioning
# recovers its best behaviour, where its mean is an easy bar.
BEST_SHARE = 0.1


@dataclasses.dataclass(frozen=True)
class Model:
  """One locomotion model: ``configs/locomotion.py``'s MODEL on (env, level) with one seed.

  fraction: the share of the data's steps it trains on, from its first episodes (the last 5 % of the episodes are
  held out at every share; 0.95: every training episode, which is 95 % of the episodes); returns: "average"
  (MTM's) or "sum" (return-to-go); labels: heteromodal, the share of the training episodes that keeps its
  actions (drawn with the seed), the others ``unlabelled`` ("state_only" or "drop"); budget: its training steps
  (and warmup) as a multiple of the scale's, so the one model can be given the compute of several specialists;
  data: the first characters of the checksum of the data it trained on, named only where its seed was taken again
  on one realization (a later machine's the cache holds, or this machine's) while the cache holds the model of
  the plain name on another (LocomotionStudy.paired).
  """

  env: str
  level: str
  model: str = "mtm"
  seed: int = 0
  fraction: float = ALL_TRAINING
  returns: str = "average"
  labels: float | None = None
  unlabelled: str = "state_only"
  budget: int = 1
  data: str = ""

  @property
  def name(self) -> str:
    """Its workdir's name under OUT/models, and its cached measurements'."""
    parts = [self.env, self.level, self.model]
    if self.fraction != ALL_TRAINING:
      parts.append(f"steps{self.fraction:g}")  # a share of the steps (data.train_steps), not of the episodes
    if self.returns == "sum":
      parts.append("sum")
    if self.labels is not None:
      parts += [f"f{self.labels:g}", "labelled" if self.unlabelled == "drop" else "all"]
    if self.budget != 1:
      parts.append(f"x{self.budget}")
    if self.data:
      parts.append(f"data{self.data}")
    return "_".join([*parts, f"seed{self.seed}"])


class LocomotionStudy:
  """A locomotion study in ``out`` (default runs/NAME_SCALE) at ``scale`` of the study's SCALES: trains what is
  missing, measures what is not cached. envs, levels: the scale's by default; seeds: per model, 0 = the scale's."""

  name = ""  # the study's: its default folder
  scales = {}  # the study's SCALES
  keyed = ()  # scale entries every model name and measurement key they reach encodes (harness.Harness)
  one_model = "mtm"  # the MTM whose steps the scale's mtm_budget multiplies (model())

  def __init__(
    self,
    out: str | None,
    scale: str,
    envs=None,
    levels=None,
    seeds: int = 0,
    log: Callable = harness.echo,
    overrides: dict | None = None,
  ):
    out = out or os.path.join("runs", f"{self.name}_{scale}")
    scales = self.scales
    if overrides and scale in scales:  # e.g. mtm_budget from the command line: recorded with the scale's settings
      unknown = sorted(set(overrides) - set(scales[scale]))
      if unknown:
        raise UserError(
          f"{unknown} are not settings of the {self.name} study's scale {scale!r}; its settings: {sorted(scales[scale])}"
        )
      scales = {**scales, scale: {**scales[scale], **overrides}}
    self.harness = harness.Harness(out, scale, scales, log=log, keyed=self.keyed)
    self.scale, self.log = self.harness.scale, log
    self.envs = tuple(envs or self.scale["envs"])
    self.levels = tuple(levels or self.scale["levels"])
    bad = sorted(set(self.envs) - set(ENVS)) + sorted(set(self.levels) - set(LEVELS))
    if bad:
      raise UserError(f"unknown env or level {bad}; envs are {list(ENVS)}, levels {list(LEVELS)}")
    self.seeds = {part: list(range(seeds or n)) for part, n in self.scale["seeds"].items()}
    self._held_out_windows = {}
    self._experts = {}  # env -> its expert's actions (d4rl_protocol.expert_actions)
    self._checksums = {}  # dataset id -> the checksum its provenance records
    self._sizes = {}  # (env, level) -> (episodes, steps): config() asks for every model of every measurement
    self._units = {}  # (part, env, level, seed, fraction, labels) -> {data checksum: names of the models trained on it}
    self._redone = {}  # unit -> the data checksum its seed was taken again on, cached or this machine's (paired)

  # -- models ---------------------------------------------------------------------------------------------

  def model(self, env: str, level: str, name: str, seed: int, **kw) -> Model:
    """A model of the study. Its MTM (``one_model``) trains the scale's ``mtm_budget`` (default 1) times the steps,
    and so do the MLP baselines (the paper trains every model for the same steps; an MLP costs about 1 % of a
    transformer). Each transformer specialist trains the scale's steps: in the MTM study, at an mtm_budget of 4
    its four specialists together cost what the one model does."""
    budget = self.scale.get("mtm_budget", 1) if name == self.one_model or locomotion_config.is_mlp(name) else 1
    return Model(env, level, name, seed, budget=budget, **kw)

  def config(self, m: Model):
    c = locomotion_config.get_config(f"scale={self.harness.scale_name},env={m.env},level={m.level},model={m.model}")
    c.data.returns = m.returns
    c.train.tensorboard = False
    episodes, steps = self._size(m.env, m.level)
    # The config's held-out share of the episodes (the last 5 %), as a count: the same episodes at every share of
    # the data, so every share scores on them.
    c.data.num_validation = max(1, round(c.data.validation_fraction * episodes))
    if m.fraction < ALL_TRAINING:  # a share of the data's transitions, as the paper's shares of D4RL's steps (issue 30):
      # by episodes, 0.5 % and 1 % of Hopper expert's 116 episodes were the same one episode
      c.data.train_steps = max(1, round(m.fraction * steps))
    if m.labels is not None:
      c.data.action_fraction, c.data.action_seed, c.data.unlabelled = m.labels, m.seed, m.unlabelled
    c.train.num_steps, c.train.warmup_steps = m.budget * c.train.num_steps, m.budget * c.train.warmup_steps
    harness.as_trained(c, m.seed)  # its one checkpoint at the end of the new budget
    c.eval.every = max(1, c.train.num_steps // CURVE_POINTS)  # its held-out learning curve, as it trains
    return c

  def dataset_steps(self, env: str, level: str) -> int:
    """The steps of a dataset of the study's scale, its held-out episodes' included."""
    return self._size(env, level)[1]

  def _size(self, env: str, level: str) -> tuple[int, int]:
    """(episodes, steps) of a study's dataset, read once: the datasets are made (ensure_datasets) before any
    model, and opening one reads its metadata from disk."""
    key = env, level
    if key not in self._sizes:
      self._sizes[key] = _dataset_size(env, level, self.harness.scale_name)
    return self._sizes[key]

  def sizes(self) -> str:
    """The models' size at this scale, as its config (``configs/locomotion.py``) gives it, for a report."""
    c = self.config(Model(self.envs[0], self.levels[0]))
    m, t = c.model, c.train
    return (
      f"width {m.width}, {m.encoder_layers} encoder layer(s) + {m.decoder_layers} decoder, {m.num_heads} heads, batch "
      f"{t.batch_size}, {t.num_steps} steps ({t.warmup_steps} warmup); MLPs with hidden sizes {tuple(m.mlp_hidden)}"
    )

  def trained(self, part: str, m: Model) -> harness.Trained:
    """A model, trained (or its training resumed) when a measurement that is not cached reads it; the cache
    records its data's checksum, so a dataset made again otherwise never takes the old one's measurements."""
    c = self.config(m)
    here, key = self.checksum(m.env, m.level), unit(part, m.env, m.level, m.seed, m.fraction, m.labels)
    target = self._redone.get(key)
    if target is not None:  # the seed is taken again on one realization: its models of it, named apart
      if self.harness.realization(m.name) not in (None, target):
        m = dataclasses.replace(m, data=target[:8])
      if target != here and self.harness.realization(m.name) != target:
        raise harness.OtherData(f"the cache holds no model {m.name} trained on data {target[:12]}")
    model = self.harness.model(part, m.name, c, data=here, derived=DERIVED)
    self.pair(key, self.harness.realization(m.name) or here, m.name)
    return model

  def pair(self, key: tuple, realization: str, name: str) -> None:
    """Adds model (or run) ``name``, trained on data ``realization``, to the unit ``key`` (``unit``): what a part
    sets against each other for one seed. They must have trained on one realization of the data
    (harness.Harness.model), whatever the seeds pool across: another is refused (harness.OtherData)."""
    if realization is None:  # a dataset with no provenance (not made by the study): nothing to pair by
      return
    found = self._units.setdefault(key, {})
    if found and realization not in found:
      part, env, level, seed = key[:4]
      both = "; ".join(f"{', '.join(names)} on data {data[:12]}" for data, names in {**found, realization: [name]}.items())
      raise harness.OtherData(
        f"seed {seed} of {part} on {env} {level} would pair models trained on two realizations of its data "
        f"({both}): remove that seed's models on the older data from the cache's models, and their measurements, "
        "to redo the seed on this data"
      )
    found.setdefault(realization, []).append(name)

  def seed_realization(self, part: str, env: str, level: str, seed: int) -> str | None:
    """The checksum of the data that ``part``'s seed (every training episode) trained on, once it is measured
    (None: a dataset with no provenance)."""
    return next(iter(self._units.get(unit(part, env, level, seed), {})), None)

  def best_episodes_score(self, env: str, level: str, realization: str | None) -> float | None:
    """The mean normalised score of the best BEST_SHARE of the episodes of (env, level)'s data ``realization`` (a
    checksum). Measured where this machine holds that data, and cached, so a report written on a later machine,
    whose data is another realization, still has it; None where no machine that held it measured it."""
    dataset_name = dataset_id(env, level, self.harness.scale_name)
    key = f"best_episodes|{dataset_name}|{realization}|share={BEST_SHARE:g}"
    if realization is None or realization != self.checksum(env, level):
      return self.harness.results.get(key)

    def compute():
      import minari

      dataset = minari.load_dataset(dataset_name)
      returns = np.sort(model_rollouts.episode_returns(dataset))[::-1]
      best = returns[: max(1, round(BEST_SHARE * len(returns)))]
      return float(score.d4rl_score(best, *score.references(dataset.storage.metadata, dataset_name)).mean())

    return self.harness.measured(key, compute)

  def checksum(self, env: str, level: str) -> str | None:
    """The checksum of this machine's (env, level) dataset, as its provenance records it."""
    dataset = dataset_id(env, level, self.harness.scale_name)
    if dataset not in self._checksums:
      self._checksums[dataset] = (writer.provenance(dataset) or {}).get("checksum")
    return self._checksums[dataset]

  def paired(self, part: str, env: str, level: str, seed: int, measure: Callable, fraction: float = ALL_TRAINING, labels=None):
    """``measure()``: a part's measurements of one seed (and share of the data, or of its labels: Model), of
    models it pairs. Where they cannot all be of one realization of the data (a model cached as trained on an
    earlier machine's data lacks a measurement, or would be paired with a model trained here), they are taken
    again of the models named apart (Model.data) for one realization: first each other one the cache holds, where
    the seed may have been finished on a later machine than the one that first named its models (read from the
    cache, nothing trains), then this machine's, trained here. So a study that spans machines never pairs two
    realizations, and keeps every seed it finished on any of them."""
    used = dict(self.harness.configs)
    try:
      return measure()
    except harness.OtherData as e:
      refused = e
    key, here = unit(part, env, level, seed, fraction, labels), self.checksum(env, level)

    def take_on(target: str) -> None:  # the seed's models of realization ``target`` from here on
      self._units.pop(key, None)
      self._redone[key] = target
      self.harness.configs = dict(used)  # the report's configs are of the models the seed uses, not the refused

    for target in sorted(self.cached_realizations(env, level) - {here}):
      take_on(target)
      try:
        measured = measure()
      except UserError:  # OtherData, or a model of that name cached at another recipe: not this seed's, then
        continue
      self.log(f"{part} seed {seed} on {env} {level}: read from the cache's models on data {target[:12]}")
      return measured
    take_on(here)
    self.log(f"{part} seed {seed} on {env} {level}: redone on this machine's data ({refused})")
    return measure()

  def cached_realizations(self, env: str, level: str) -> set:
    """The checksums of the (env, level) data that the cache's models trained on."""
    dataset = dataset_id(env, level, self.harness.scale_name)
    return {
      recipe["data_checksum"]
      for recipe in self.harness.results["models"].values()
      if recipe.get("data_checksum") and recipe["data"].get("dataset_id") == dataset
    }

  def realizations(self) -> list[str]:
    """The report's lines on its data: each dataset's realizations (harness.Harness.model) and the seeds of each
    part on each."""
    by_dataset = {}
    for (part, env, level, seed, fraction, labels), unit in self._units.items():
      for data in unit:
        share = ("" if fraction == ALL_TRAINING else f" at {fraction:g}") + ("" if labels is None else f" with labels {labels:g}")
        by_dataset.setdefault((env, level), {}).setdefault(data, {}).setdefault(part + share, set()).add(seed)
    lines = []
    for (env, level), by_data in sorted(by_dataset.items()):
      current = self.checksum(env, level)
      for data, parts in by_data.items():
        made = "made here" if data == current else "made by the same command on an earlier machine"
        seeds = "; ".join(f"{part} seeds {', '.join(map(str, sorted(s)))}" for part, s in parts.items())
        lines.append(f"- {env} {level}, data `{data[:12]}…` ({made}): {seeds}")
    return lines

  def datasets(self) -> set:
    """The (env, level) datasets the study uses."""
    return {(e, lvl) for e in self.envs for lvl in self.levels}

  def ensure_datasets(self) -> None:
    """Makes (SAC, then every D4RL level) each environment whose datasets are missing at the study's scale, then
    checks that every dataset it reads was made by the D4RL protocol at that scale (never silently reused)."""
    import minari

    scale = self.harness.scale_name

    def missing():
      local = set(minari.list_local_datasets())
      return {e for e, lvl in self.datasets() if dataset_id(e, lvl, scale) not in local}

    for env in sorted(missing()):
      # An invocation side by side into this folder may be making them: it holds the lock, this one waits and
      # finds them made, instead of both running the SAC (whose workdir admits one run).
      with self.harness.locked(f"datasets_{env}"):
        if env not in missing():
          continue
        started = time.time()
        self.log(f"making the {env} datasets ({d4rl_protocol.protocol(scale)})")
        d4rl_protocol.make(env, scale, root=os.path.join(self.harness.out, "sac"), progress=False)
        self.harness.spent("datasets", started)
    for env, level in sorted(self.datasets()):
      d4rl_protocol.require(env, level, scale)

  # -- measurements (cached) --------------------------------------------------------------------------------

  def rollout_score(
    self,
    part: str,
    model: harness.Trained,
    task: str,
    target_rule: str = PRIMARY_TARGET,
    planner: dict | None = None,
    validation: bool = False,
  ) -> dict:
    """{"score": [mean, s.e. over episodes], "dataset_score": the data's own, "target", "reached_time_limit": the
    share of episodes that did, "ms_per_step"}.

    ms_per_step: wall time of one lock-step policy call for every environment, with the environments'
    own steps (and the first call's compilation) included. validation: on VALIDATION_EPISODES episodes whose
    seeds the reported ones never use, to choose a return target by.
    """
    episodes = min(VALIDATION_EPISODES, self.scale["episodes"]) if validation else self.scale["episodes"]
    seed = model_rollouts.VALIDATION_SEED if validation else model_rollouts.EVAL_SEED

    def compute():
      workdir = model.workdir  # trains it first where it is not: timed as its training
      started = time.time()
      ckpt = load_checkpoint(workdir)
      out = model_rollouts.score_checkpoint(ckpt, task, episodes, target_rule=target_rule, planner=planner, seed=seed)
      self.harness.spent(part, started)
      self.log(
        f"  {model.name} {task} {target_rule}{' planned' if planner else ''}"
        f"{' validation' if validation else ''}: score {out['score'][0]:.1f}"
      )
      return {
        "score": out["score"],
        "dataset_score": out["dataset_score"],
        "target": out["target"],
        "reached_time_limit": out["reached_time_limit"],
        "ms_per_step": 1e3 * out["seconds"] / out["policy_calls"],
      }

    plan = "" if planner is None else f"|plan {key_params(planner)}"
    key = f"rollout|{model.name}|{task}|{target_rule}{plan}" + ("|validation" if validation else "")
    return self.harness.measured(key, compute)

  def planner_ranking(self, part: str, model: harness.Trained, planner: dict, ranking: dict) -> dict:
    """``planner_ranking.planner_ranking`` of a model's RCBC planner (at the primary target), its candidates at
    ``ranking``'s decision ``steps`` of its ``episodes`` validation episodes played out; the per-decision records
    are kept beside the means."""

    def compute():
      workdir = model.workdir  # trains it first where it is not: timed as its training
      started = time.time()
      out = planner_ranking.planner_ranking(load_checkpoint(workdir), planner=planner, target_rule=PRIMARY_TARGET, **ranking)
      self.harness.spent(part, started)
      self.log(
        f"  {model.name} planner ranking: rank correlation {out['rank_correlation']:+.2f}, chosen gain "
        f"{out['chosen_gain']:+.3f}, headroom {out['headroom']:.3f} {out['units']}"
      )
      return out

    plan = key_params(planner)
    steps = "-".join(map(str, sorted(set(ranking["steps"]))))
    key = f"ranking|{model.name}|{PRIMARY_TARGET}|plan {plan}|episodes={ranking['episodes']},steps={steps}"
    return self.harness.measured(key, compute)

  def expert_gap(self, part: str, model: harness.Trained, env: str, task: str) -> dict:
    """``expert_gap.expert_gap`` of a model of ``env``'s expert data: its action error against the expert on its
    own rollouts' states (the scale's reported episodes) and on the held-out expert episodes."""

    def compute():
      if env not in self._experts:  # its SAC run: where ensure_datasets makes it, or make_dataset's default
        roots = (os.path.join(self.harness.out, "sac"), "runs/sac")
        self._experts[env] = d4rl_protocol.expert_actions(env, self.harness.scale_name, roots)
      workdir = model.workdir  # trains it first where it is not: timed as its training
      started = time.time()
      ckpt = load_checkpoint(workdir)
      out = expert_gap.expert_gap(ckpt, task, self._experts[env], self.scale["episodes"], target_rule=PRIMARY_TARGET)
      self.harness.spent(part, started)
      self.log(f"  {model.name} {task} against the expert: own states {out['own']:.4f}, held-out {out['held_out']:.4f}")
      return out

    return self.harness.measured(f"expert_gap|{model.name}|{task}", compute)

  def held_out_windows(self, env: str, level: str):
    """(spec, held-out windows, the MTM's experiment) of (env, level): every model is scored on these windows."""
    if (env, level) not in self._held_out_windows:
      exp = parse(self.config(Model(env, level)))
      spec, _, validation, _ = prepare_data(exp.data, exp.window)
      self._held_out_windows[env, level] = spec, validation, exp
    return self._held_out_windows[env, level]

  def no_change(self, env: str, level: str, task: str) -> float:
    """``capabilities.repeat_first`` of TASK on the held-out windows every model is scored on."""
    spec, validation, exp = self.held_out_windows(env, level)
    return capabilities.repeat_first(capabilities.held_out(spec, validation, exp, (task,)), task)

  def capability_error(self, part: str, model: harness.Trained, env: str, level: str, task: str, params=None) -> dict:
    """{"mse": raw MSE, "normalised": MSE / one-step change, "asked": how, "covered": whether the model's training
    drew that mask at every index} of one scored TASK (``capabilities.SCORED``). params: ask it with these mask
    parameters (an ``index`` among them fixes it) instead of its training's: how another code base scores it.

    Every model is scored on the same held-out windows and index draws (the MTM's ``eval``), each asked with its
    own training's mask parameters (``capabilities.held_out``'s ``covered``, ``coverage.choose``). So the paper's
    inverse-dynamics MLP, trained with every state of the window visible, is asked so, where the one model and
    the specialists see s[i] and s[i + 1]. Asked the library's way, it would be scored on masks it never drew:
    the fault of the reference's forward-dynamics specialist (results/mtm_small_curves/FINDINGS.md)."""

    def compute():
      workdir = model.workdir  # trains it first where it is not: timed as its training
      started = time.time()
      ckpt = load_checkpoint(workdir)
      spec, validation, exp = self.held_out_windows(env, level)
      if ckpt.config.window != exp.window:
        raise UserError(f"{workdir} has window {ckpt.config.window}; the study scores windows of {exp.window}")
      config = dataclasses.replace(ckpt.config, eval=exp.eval)
      held = capabilities.held_out(spec, validation, config, (task,), "covered" if params is None else {task: params})
      weights = jax.tree_util.tree_map(jax.numpy.asarray, ckpt.params)
      predictions = capabilities.predict_tasks(jax.jit(make_predict(ckpt.config)), weights, held, spec.names)
      errors = capabilities.mse(predictions, held)
      notice = coverage.TrainingMasks.of(ckpt.config).notice(task, held.params[task], what=f"{model.name}'s {task}")
      if notice:
        print(notice)
      self.harness.spent(part, started)
      normalised = capabilities.relative_to_one_step(errors, held)[task]
      return {"mse": errors[task], "normalised": normalised, "asked": held.asked[task], "covered": not notice}

    asked = "" if params is None else f"|{key_params(params)}"
    return self.harness.measured(f"capability|{model.name}|{task}{asked}", compute)

  def learning_curve(self, model: harness.Trained) -> dict:
    """{task: {step: held-out loss}}: the model's ``evaluations`` (cached, so a cache alone reports it)."""
    curve = self.harness.measured(f"curve|{model.name}", lambda: evaluations(model.workdir))
    return {task: {int(step): loss for step, loss in by_step.items()} for task, by_step in curve.items()}

  # -- the report --------------------------------------------------------------------------------------------

  def report(self, sections: list[str], started: float) -> str:
    """``OUT/report.md``: the sections, then the wall time per part (this invocation's and summed); its path."""
    data = [
      "## The data each seed trained on",
      "A dataset made again by its command on another machine may differ (Hopper's small SAC expert returned "
      "3,377 on one machine and 3,169 on the next, from one command and seed), and a session may start on a fresh "
      "machine: so a study that spans sessions pools seeds trained on several realizations of one "
      "protocol. Each realization's scores are normalised by its own expert and random references, and the "
      "models a part pairs for one seed always share one realization (the harness refuses otherwise).",
      "\n".join(self.realizations()),
    ]
    return self.harness.write_report([*sections, *data, *self.harness.wall_time(started)])

  def report_per_dataset(self, title: str, recipe: Callable, measure: Callable, section: Callable) -> str:
    """A study of one part per (env, level): the report of ``title``, ``recipe()``, then ``section(env, level,
    measure(env, level))`` for each dataset."""
    started = time.time()
    self.ensure_datasets()
    sections = [title, recipe()]
    for env in self.envs:
      for level in self.levels:
        sections += section(env, level, measure(env, level))
    return self.report(sections, started)


def unit(part: str, env: str, level: str, seed: int, fraction: float = ALL_TRAINING, labels: float | None = None) -> tuple:
  """The key of what ``part`` sets against each other for one seed (and share of the data, or of its labels, as
  Model's): its models must share one realization of the data (LocomotionStudy.pair)."""
  return part, env, level, seed, fraction, labels


def evaluations(workdir: str) -> dict:
  """{task: {step: held-out loss}} from the evaluations a model's training wrote (eval.every): its own masks'
  loss on the held-out windows, in normalised units; a step evaluated twice (a resumed run) keeps the last."""
  curve = {}
  for record in run_log.read(workdir, run_log.EVAL):
    for key, value in record.items():
      if key.startswith("eval/"):
        curve.setdefault(key.removeprefix("eval/"), {})[int(record["step"])] = float(value)
  return curve


def final(curve: dict) -> float:
  """A learning curve's ({step: loss}) last value."""
  return curve[max(curve)]


def halfway(curve: dict) -> float:
  """A learning curve's value at the evaluated step nearest half its last step."""
  return curve[min(curve, key=lambda step: abs(step - max(curve) / 2))]


def levelled(curve: dict) -> float:
  """A loss curve's last value over its value halfway: near 1, it had levelled off; above, it was rising again."""
  return final(curve) / halfway(curve)


def combine(values: list) -> SeedCell | None:
  """The cell over seeds of per-seed values: floats, or rollout_score results (each seed's mean score over its
  episodes, and its share that reached the time limit). Never an interval over one model's episodes: a
  deterministic model's episodes differ only by their start, and say nothing of another seed's model."""
  rollouts = [v for v in values if isinstance(v, dict)]
  if rollouts:
    return over_seeds([r["score"][0] for r in rollouts], [r.get("reached_time_limit") for r in rollouts])
  return over_seeds(values)


def key_params(params: dict) -> str:
  """Parameters as a cache key holds them: ``k=v`` sorted by name, comma-separated."""
  return ",".join(f"{k}={v}" for k, v in sorted(params.items()))


def combine_gaps(gaps: list) -> dict | None:
  """{row of GAP_ROWS, and "data": its cell over seeds} of per-seed expert_gap results (None for none)."""
  return {k: combine([g[k] for g in gaps]) for k in (*GAP_ROWS, "data")} if gaps else None


def gap_rows(prefix: str, gaps: dict, columns) -> list:
  """A report table's rows of combine_gaps cells by column (None: not measured): one per GAP_ROWS row."""
  return [
    [
      f"{prefix}{label}",
      *[cell_text(gaps[c][key] if gaps.get(c) else None, "{:.2f}" if key == "growth" else "{:.4f}") for c in columns],
    ]
    for key, label in GAP_ROWS.items()
  ]


def gap_text(gaps: list) -> str:
  """What an expert-gap table measures, and how far the data's own samples scatter about the expert (the "data"
  cells of ``gaps``, combine_gaps results: their range over the seeds' data, which may be several realizations)."""
  data = [v for g in gaps if g for v in g["data"].values]
  low, high = f"{min(data):.4f}", f"{max(data):.4f}"
  scatter = low if low == high else f"{low}-{high} (over the seeds' data)"
  return (
    "Action error against the expert that sampled the data (mean squared error per action dimension, its mode "
    "as the label; `mtm_jax.eval.expert_gap`), on the same models and the reported episodes' starts. A "
    "held-out loss sees only the data's states; in closed loop a model's own actions choose its next states, "
    f"and the growth from held-out to its own states is compounding error. The data's own samples scatter "
    f"{scatter} about the expert's mode on the held-out steps."
  )


def _dataset_size(env: str, level: str, scale: str) -> tuple[int, int]:
  """(episodes, steps) of a study's dataset."""
  import minari

  dataset = minari.load_dataset(dataset_id(env, level, scale))
  return dataset.total_episodes, dataset.total_steps


def asked_line(error: dict) -> str:
  """How a capability_error result was asked, with a warning where the model's training does not cover it."""
  return error["asked"] + ("" if error["covered"] else " (below 1 % of its training masks)")


def asked_text(asked: dict) -> str:
  """How each column was asked each task ({task: {column: line}}), the columns asked alike together."""
  out = []
  for task, by_column in asked.items():
    groups = {}
    for column, line in by_column.items():
      groups.setdefault(line, []).append(column)
    default = f"{task} (the library's mask)"
    out.append("; ".join(f"{', '.join(cols)}: {default if line == task else line}" for line, cols in groups.items()))
  return " / ".join(out)
