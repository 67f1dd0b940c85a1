"""Mask coverage: the probability that a run's training masks show exactly the pattern an inference mask asks.

A model trained under one mask distribution and asked another is scored out of its training distribution.
``TrainingMasks`` holds a run's training distribution (its regime's tasks, weights and task parameters,
``Experiment.training_tasks``) and gives, for an inference mask (a task at an index, or an explicit
visible pattern), the probability that one training draw has exactly that visible pattern and scores
every token the inference mask scores (``Coverage``).

Exact where the distribution allows, which is every task of ``mtm_jax.masks``:
  positional tasks    each index of ``masks.index_range`` is drawn with equal probability, and the
                      task's mask at an index is deterministic (checked: two keys must agree)
  random_autoregressive  for each mode and position, the autoregressive cut leaves an allowed set A per
                      modality (masks.autoregressive_cut, the task's own); a modality that keeps n random
                      tokens of T shows exactly V ⊆ A with probability C(T-|A|, n-|V|) / C(T, n)
  random              each token visible with probability 1-p, p ~ U(0,1): a pattern with v of N tokens
                      visible has probability v!(N-v)!/(N+1)!; the first return is shown w.p. 1/2
  ``ensure_visible``  moves the empty pattern's mass to the single tokens of ``masks.revealed_modality``
A task without an exact rule (a task registered from outside) makes the whole mixture Monte Carlo: the
run's own sampler, drawn ``samples`` times, with the binomial standard error.

Coverage is of windows wholly inside their episodes: masks.apply_presence hides padding, which shifts a
window at an episode's end towards fewer visible tokens.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping, Sequence

import jax
import numpy as np

from mtm_jax import masks, runtime
from mtm_jax.experiment import Experiment, MaskConfig
from mtm_jax.spec import RETURNS, DatasetSpec

COVERED = 0.01  # a mask drawn less often than this in training is reported as (almost) never trained on
FILE = "coverage.json"  # written into a training run's workdir

# The tasks the library asks the one model, beyond its eval.tasks: the rollout loop's masks (bc, rcbc, both
# passes of rcbc_imagine) and the planner's (its rcbc proposal and plan_value scoring), and the dynamics
# and goal masks of the MTM study.
SAMPLED = ("random", "random_autoregressive")  # mask distributions, not masks a model is asked: no coverage
INFERENCE_TASKS = (
  "bc",
  "rcbc",
  "imagine",
  "imagine_act",
  "plan_value",
  "forward_dynamics",
  "inverse_dynamics",
  "backwards_dynamics",
  "goal",
)


@dataclasses.dataclass(frozen=True)
class Coverage:
  probability: float
  stderr: float  # 0 when exact
  exact: bool

  @property
  def covered(self) -> bool:
    return self.probability >= COVERED

  def describe(self) -> str:
    if self.exact:
      return f"{100 * self.probability:.3g} %"
    return f"{100 * self.probability:.3g} ± {100 * self.stderr:.2g} % (Monte Carlo)"


def _rows(mask: Mapping, names: Sequence[str], T: int) -> np.ndarray:
  """A mask as one bool array [M, T] in ``names`` order (a modality the mask lacks: all False)."""
  return np.stack([np.asarray(mask[n], bool).reshape(T) if n in mask else np.zeros(T, bool) for n in names])


def _task_masks(spec: DatasetSpec, T: int, task: str, return_policy: str, params: Mapping, index=None, seed=0):
  fn = masks.get_task(task)
  return fn(jax.random.key(seed), T, spec, index=index, return_policy=return_policy, **params)


class TrainingMasks:
  """The visible patterns a run's training draws, with their probabilities."""

  def __init__(
    self,
    spec: DatasetSpec,
    T: int,
    mask_config: MaskConfig,
    tasks: Sequence[str],
    weights: Sequence[float] | None = None,
    *,
    samples: int = 200_000,
    seed: int = 0,
  ):
    self.spec, self.T, self.names = spec, T, spec.names
    self.mask_config, self.tasks = mask_config, list(tasks)
    weights = np.asarray(weights if weights else [1.0] * len(self.tasks), np.float64)
    self.weights = weights / weights.sum()
    self._samples, self._seed, self._counts = samples, seed, None
    self._components = [self._exact_component(t) for t in self.tasks]
    self.exact = all(c is not None for c in self._components)

  @classmethod
  def of(cls, exp: Experiment, **kwargs) -> TrainingMasks:
    """The training distribution of ``exp`` (a parsed experiment with its dataset spec)."""
    return cls(exp.require_spec(), exp.window, exp.masks, *exp.training_tasks(), **kwargs)

  # -- exact components: a function (visible rows, target rows) -> probability, or None

  def _exact_component(self, task: str):
    params = self.mask_config.params(task)
    policy = self.mask_config.return_policy
    if task == "random_autoregressive":
      return self._autoregressive(params, policy)
    if task == "random":
      return self._uniform(params, policy)
    outcomes = []
    for index in masks.index_range(task, self.T) or [None]:
      visible, target = _task_masks(self.spec, self.T, task, policy, params, index)
      again, _ = _task_masks(self.spec, self.T, task, policy, params, index, seed=1)
      if not np.array_equal(_rows(visible, self.names, self.T), _rows(again, self.names, self.T)):
        return None  # random beyond its index: no exact rule
      outcomes.append((_rows(visible, self.names, self.T), _rows(target, self.names, self.T)))

    def probability(v, t):
      hits = sum(np.array_equal(v, ov) and not np.any(t & ~ot) for ov, ot in outcomes)
      return hits / len(outcomes)

    return probability

  def _scored(self, v: np.ndarray) -> np.ndarray:
    """The targets of the random masks: every hidden token (returns only where the policy scores them)."""
    target = masks.scored_if_hidden({n: v[i] for i, n in enumerate(self.names)}, self.T, self.mask_config.return_policy)
    return _rows(target, self.names, self.T)

  def _with_reveal(self, raw, ensure_visible: bool):
    """Adds ``ensure_visible``'s move of the empty pattern's mass to single tokens of the revealed modality."""
    reveal = self.names.index(masks.revealed_modality(self.spec))
    empty = np.zeros((len(self.names), self.T), bool)

    def probability(v, t):
      if np.any(t & ~self._scored(v)):
        return 0.0
      if not ensure_visible:
        return raw(v)
      if not v.any():
        return 0.0
      single = v.sum() == 1 and v[reveal].sum() == 1
      return raw(v) + (raw(empty) / self.T if single else 0.0)

    return probability

  def _autoregressive(self, params: Mapping, policy: str):
    keep_ratios = params.get("keep_ratios", (0.7, 0.8, 0.85, 0.9, 0.95, 1.0))
    mode_weights = np.asarray(params.get("mode_weights", (0.2, 0.1, 0.7)), np.float64)
    per_modality = params.get("ratio_per_modality", False)
    T = self.T
    counts = [int(T * r) for r in keep_ratios]
    present = np.asarray([m in self.spec for m in masks.AUTOREGRESSIVE_MODE_ORDER], np.float64)
    mode_p = mode_weights * present / (mode_weights * present).sum()
    cuts = []  # (probability, allowed rows [M, T]) for each mode and position
    for mode, p in enumerate(mode_p):
      if p == 0:
        continue
      for position in masks.index_range("random_autoregressive", T):
        allowed = masks.autoregressive_cut(T, self.names, mode, position, policy)
        cuts.append((p / T, _rows(allowed, self.names, T)))

    def keep(n, allowed, shown):  # P(n random tokens of T, cut to `allowed`, show exactly `shown`)
      if np.any(shown & ~allowed):
        return 0.0
      return math.comb(T - int(allowed.sum()), n - int(shown.sum())) / math.comb(T, n) if n >= shown.sum() else 0.0

    def raw(v):
      total = 0.0
      for p, allowed in cuts:
        per = [[keep(n, allowed[i], v[i]) for n in counts] for i in range(len(self.names))]
        if per_modality:
          total += p * math.prod(np.mean(row) for row in per)
        else:
          total += p * np.mean([math.prod(row[j] for row in per) for j in range(len(counts))])
      return total

    return self._with_reveal(raw, params.get("ensure_visible", True))

  def _uniform(self, params: Mapping, policy: str):
    has_returns = RETURNS in self.names
    tokens = [i for i, n in enumerate(self.names) if n != RETURNS]
    N = len(tokens) * self.T

    def raw(v):
      if has_returns:
        shown = v[self.names.index(RETURNS)]
        if shown[1:].any():
          return 0.0
      visible = int(v[tokens].sum())
      tokens_p = math.factorial(visible) * math.factorial(N - visible) / math.factorial(N + 1)
      return tokens_p * (0.5 if has_returns else 1.0)

    return self._with_reveal(raw, params.get("ensure_visible", True))

  # -- Monte Carlo, for a mixture with a task of no exact rule

  def _monte_carlo_counts(self) -> dict:
    if self._counts is None:
      sampler = self.mask_config.sampler(self.spec, self.T, self.tasks, list(self.weights))
      draw = jax.jit(lambda key: masks.sample_batch(sampler, key, self._samples))
      visible, target = jax.device_get(draw(jax.random.key(self._seed)))
      v = np.stack([np.asarray(visible[n]) for n in self.names], axis=1)  # [S, M, T]
      t = np.stack([np.asarray(target[n]) for n in self.names], axis=1)
      self._counts = (v.reshape(len(v), -1), t.reshape(len(t), -1))
    return self._counts

  # -- queries

  def coverage(self, visible: Mapping, target: Mapping | None = None) -> Coverage:
    """P(a training mask shows exactly ``visible`` and scores every token of ``target``).

    ``visible``/``target``: ``{modality: bool [T]}``; a modality left out is hidden / not asked.
    """
    unknown = sorted(set(visible) - set(self.names)) + sorted(set(target or {}) - set(self.names))
    if unknown:
      raise ValueError(f"mask names modalities {unknown} this dataset lacks; it has {list(self.names)}")
    v, t = _rows(visible, self.names, self.T), _rows(target or {}, self.names, self.T)
    if self.exact:
      p = float(sum(w * c(v, t) for w, c in zip(self.weights, self._components)))
      return Coverage(p, 0.0, True)
    drawn_v, drawn_t = self._monte_carlo_counts()
    hits = np.all(drawn_v == v.reshape(-1), axis=1) & ~np.any(t.reshape(-1) & ~drawn_t, axis=1)
    n = len(drawn_v)
    p = float(hits.mean())
    return Coverage(p, math.sqrt(max(p * (1 - p), 1 / n) / n), False)  # 1/n floor: zero hits still has an error

  def task(self, task: str, index: int | None = None, params: Mapping | None = None) -> Coverage:
    """The coverage of ``task``'s mask at ``index`` (with the run's parameters for that task, or ``params``; an
    ``index`` in them fixes it)."""
    params = dict(self.mask_config.params(task) if params is None else params)
    index = params.pop("index", index)
    visible, target = _task_masks(self.spec, self.T, task, self.mask_config.return_policy, params, index)
    return self.coverage(visible, target)

  def _askable(self, task: str) -> bool:
    """Whether ``task`` is a mask a model can be asked at this window (not a distribution, not too long)."""
    if task in SAMPLED:
      return False
    try:
      masks.get_task(task)(jax.random.key(0), self.T, self.spec, return_policy=self.mask_config.return_policy)
    except ValueError:  # the task needs a longer window than this run's
      return False
    return True

  def table(self, tasks: Sequence[str]) -> dict[str, dict]:
    """{"TASK" or "TASK@i": {"task", "index", "probability", "stderr", "exact"}} over every index of each task."""
    out = {}
    for task in filter(self._askable, tasks):
      for index in masks.index_range(task, self.T) or [None]:
        c = self.task(task, index)
        out[task if index is None else f"{task}@{index}"] = {"task": task, "index": index, **dataclasses.asdict(c)}
    return out

  def uncovered(self, task: str, params: Mapping | None = None) -> list[tuple[int | None, Coverage]]:
    """The indices of ``task`` whose mask this training draws less often than ``COVERED``."""
    if not self._askable(task):
      return []
    found = []
    asked_at = (params or {}).get("index")  # a mask asked at one index is covered there or not at all
    for index in [asked_at] if asked_at is not None else masks.index_range(task, self.T) or [None]:
      c = self.task(task, index, params)
      if not c.covered:
        found.append((index, c))
    return found

  def notice(self, task: str, params: Mapping | None = None, what: str = "") -> str | None:
    """One line naming the masks of ``task`` this model has (almost) never trained on, or None."""
    missing = self.uncovered(task, params)
    if not missing:
      return None
    where = ", ".join(f"{task}" + ("" if i is None else f"@{i}") + f" {c.describe()}" for i, c in missing)
    return (
      f"notice: {what or task} asks masks this model has (almost) never trained on (below {100 * COVERED:g} % "
      f"of its training masks): {where}"
    )


def rollout_tasks(task: str) -> tuple[str, ...]:
  """The mask tasks a rollout task asks (``rcbc_imagine`` asks two passes)."""
  return ("imagine", "imagine_act") if task == "rcbc_imagine" else (task,)


def write(exp: Experiment, workdir: str) -> dict:
  """Writes the coverage of the run's eval.tasks and the library's inference masks to ``workdir/coverage.json``."""
  training = TrainingMasks.of(exp)
  evaluated = exp.eval.tasks or tuple(masks.TASKS)  # evaluate.py scores every task when eval.tasks is empty
  table = training.table(list(dict.fromkeys([*evaluated, *INFERENCE_TASKS])))
  result = {
    "threshold": COVERED,
    "exact": training.exact,
    "training_tasks": training.tasks,
    "training_weights": [float(w) for w in training.weights],
    "masks": table,
  }
  runtime.replace_text(os.path.join(workdir, FILE), json.dumps(result, indent=2))
  return result


# Capabilities a model can be asked in more than one way: the run's own task parameters first, then the others.
ALTERNATIVES = {"bc": ({"history": False},), "rcbc": ({"history": False},), "imagine_act": ({"returns": False},)}


def describe_params(task: str, params: Mapping) -> str:
  """How ``task`` is asked under ``params``, in words."""
  if "index" in params:
    return f"{describe_params(task, {k: v for k, v in params.items() if k != 'index'})} at index {params['index']}"
  if params.get("past_actions", True) is False:
    return f"{task} without past actions"
  if params.get("history", True) is False:
    return f"{task} from the current state alone"
  if params.get("all_states", False):
    return f"{task} from every state"
  if params.get("returns", True) is False:
    return f"{task} from the states alone"
  with_history = any("history" in alternative for alternative in ALTERNATIVES.get(task, ()))
  return f"{task} with history" if with_history else task


def choose(training: TrainingMasks, task: str) -> tuple[dict, str]:
  """The task parameters to ask ``task`` with, and a line saying which and why.

  The run's own parameters unless they leave some of the task's masks below ``COVERED`` and an alternative
  (``ALTERNATIVES``) covers all of them; so a model trained on the reference MTM's masks is asked BC from
  the current state alone, which it covers, rather than with a history it has never seen.
  """
  own = training.mask_config.params(task)
  if task not in ALTERNATIVES or not training.uncovered(task, own):
    return own, describe_params(task, own)
  for alternative in ALTERNATIVES[task]:
    params = {**own, **alternative}
    if not training.uncovered(task, params):
      return params, (f"{describe_params(task, params)} (covered at every index; {describe_params(task, own)} is not)")
  return own, describe_params(task, own)
