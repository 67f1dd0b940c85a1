"""Heteromodal training (the MTM paper's setting): expert data where only a share f of the training episodes
keeps its actions and the rest are state-only. At each f it compares, on the same held-out episodes,
  MTM (labelled)     an MTM trained on the labelled episodes alone (``data.unlabelled="drop"``)
  heteromodal MTM    an MTM trained on all of them, the unlabelled ones as states and returns only
  specialists        the transformer and the MLP trained single-task on the labelled episodes
on BC and RCBC normalised rollout scores, the MTMs' two-stage rcbc_imagine (the reference's control of its
heteromodal arm), held-out inverse-dynamics error and the MTMs' held-out error on rcbc_imagine's first pass (the
later states from s[0] and the return: what the state-only episodes can teach); and whether each BC model's
held-out loss had levelled off. Both MTMs train on the reference's heteromodal recipe (configs/locomotion.py's
mtm_heteromodal: its random-autoregressive masks and its inverse-dynamics mask, half each). The labelled
episodes of a seed are drawn with that seed (``data.action_seed``), the same ones for every model of the seed.

A locomotion study (``studies.locomotion``) with its own scales and one part: the MTM study's configs, caching,
rollouts and errors.
"""

from __future__ import annotations

import os

from mtm_jax import data
from mtm_jax.data.splits import labelled_episodes, split_by_config
from mtm_jax.eval import plots
from mtm_jax.experiment import parse
from mtm_jax.spec import STATES
from studies.locomotion import (
  EXPERT_GAP_LEVEL,
  PRIMARY_TARGET,
  LocomotionStudy,
  Model,
  asked_line,
  asked_text,
  combine,
  combine_gaps,
  gap_rows,
  gap_text,
  levelled,
)
from studies.report import cell_text, claim_lines, every, markdown_table, paired

FRACTIONS = (0.01, 0.05, 0.25)  # the paper's 1 %, and two more to draw the curve
SCORED = ("bc", "rcbc", "rcbc_imagine", "imagine", "inverse_dynamics")
ERRORS = ("imagine", "inverse_dynamics")  # held-out errors (capabilities.SCORED), the rest rollout scores
TWO_STAGE = ("rcbc_imagine", "imagine")  # the MTMs' two-stage control and its first pass: no specialist has them
# Each BC model's held-out BC loss at its last evaluation over its loss halfway: near 1, it had levelled off by
# the scale's steps; well below, a score may be that of a model still learning; above, of one overfitting its
# few labelled episodes.
LEVELLED = "bc_levelled"
# Each BC model's actions against the expert that sampled the data, on held-out states and on its own rollouts'
# (expert_gap; on expert data only): where a low held-out loss and a fall in closed loop part ways.
GAP = "bc_expert_gap"
MTM_RECIPE = "mtm_heteromodal"  # the reference's heteromodal arm's masks (configs/locomotion.py)
# column -> (model, what the unlabelled training episodes become); a specialist's column is its task's model.
COLUMNS = {
  "MTM (labelled)": (MTM_RECIPE, "drop"),
  "heteromodal MTM": (MTM_RECIPE, "state_only"),
  "specialist transformer (labelled)": ("{task}", "drop"),
  "specialist MLP (labelled)": ("mlp_{task}", "drop"),
}
# mtm_budget: the MTMs' and MLPs' steps as a multiple of the scale's (LocomotionStudy.model); a folder gains the
# models of another budget beside its own (keyed), the transformer specialists shared.
_COMMON = dict(levels=("expert",), fractions=FRACTIONS, episodes=100, mtm_budget=1)
SCALES = {
  "smoke": dict(
    envs=("hopper",),
    levels=("medium",),
    fractions=(0.25,),
    specialists=("mlp_bc",),
    episodes=2,
    mtm_budget=1,
    seeds=dict(heteromodal=1),
  ),
  # Sized for a 2-core CPU: Hopper only, the transformer and MLP BC specialists (RCBC and inverse dynamics
  # specialists are in full). Its claims are rollout scores, so 8 seeds at 20 episodes (issue 30: a Hopper
  # score's SD between seeds is about 40 points). Measured at 2 seeds and 100 episodes (results/heteromodal_small):
  # 55.5 min for 24 models, so about 3.5 h at 8 seeds (measured on the paper's recipe: about 12 min a seed and
  # share, so 4.8 h). Every model trains the scale's 3,000 steps, where the MTMs mostly fall in rollouts (the MTM
  # study's one model needed 12,000 to stand on Hopper expert): the held-out errors decide between the MTMs
  # here. `--mtm_budget 4` trains the MTMs (and MLPs) 12,000 steps, where the one model stands: about 10 h more.
  "small": dict(
    _COMMON,
    envs=("hopper",),
    specialists=("bc", "mlp_bc"),
    episodes=20,
    seeds=dict(heteromodal=8),
  ),
  # The paper's recipe (configs/locomotion.py full), its three environments, every specialist: an accelerator.
  "full": dict(
    _COMMON,
    envs=("hopper", "halfcheetah", "walker2d"),
    specialists=tuple(f"{p}{t}" for t in ("bc", "rcbc", "inverse_dynamics") for p in ("", "mlp_")),
    seeds=dict(heteromodal=4),
  ),
}
# The paper's numbers at f = 1 % on D4RL expert data (normalised return): MTM on the labelled 1 %, heteromodal
# MTM, and an MLP BC on fully labelled data. Reference points, not comparisons: our sources do not say which
# mask scored them.
PAPER = {"hopper": (73.7, 87.7, 110.7), "halfcheetah": (13.9, 56.5, 93.2), "walker2d": (88.7, 96.4, 108.9)}


class HeteromodalStudy(LocomotionStudy):
  """One heteromodal study in ``out``: trains what is missing, measures what is not cached, writes report.md."""

  name = "heteromodal"
  scales = SCALES
  keyed = ("mtm_budget",)
  one_model = MTM_RECIPE

  def cells(self, env: str, level: str, labels: float) -> tuple[dict, dict]:
    """(table, asked): table[task][column] a SeedCell over seeds, or None where this scale trains no such model
    (tasks: SCORED, and LEVELLED of each BC model); asked[task][column] how that column's models were asked
    each held-out error (ERRORS)."""
    values = {task: {col: [] for col in COLUMNS} for task in (*SCORED, LEVELLED, GAP)}
    asked = {}
    for seed in self.seeds["heteromodal"]:

      def measure(seed=seed):
        out = {}
        for column, (pattern, unlabelled) in COLUMNS.items():
          for task in SCORED:
            kind = pattern.format(task=task)
            if kind != MTM_RECIPE and (task in TWO_STAGE or kind not in self.scale["specialists"]):
              continue
            model = self.trained("heteromodal", self.model(env, level, kind, seed, labels=labels, unlabelled=unlabelled))
            if task in ERRORS:
              error = self.capability_error("heteromodal", model, env, level, task)
              out[task, column] = error["normalised"]
              asked.setdefault(task, {})[column] = asked_line(error)
            else:
              out[task, column] = self.rollout_score("heteromodal", model, task)
            if task == "bc":
              out[LEVELLED, column] = levelled(self.learning_curve(model)["bc"])
              if level == EXPERT_GAP_LEVEL:
                out[GAP, column] = self.expert_gap("heteromodal", model, env, "bc")
        return out

      for (task, column), value in self.paired("heteromodal", env, level, seed, measure, labels=labels).items():
        values[task][column].append(value)
    cells = {
      task: {col: (combine_gaps if task == GAP else combine)(v) for col, v in cols.items()} for task, cols in values.items()
    }
    return cells, asked

  def tables(self, env: str, level: str) -> tuple[dict, dict]:
    """({f: table} at each labelled share of the scale, asked: how each column was asked each held-out error)."""
    tables, asked = {}, {}
    for f in self.scale["fractions"]:
      tables[f], by_task = self.cells(env, level, f)
      for task, by_column in by_task.items():
        asked.setdefault(task, {}).update(by_column)
    return tables, asked

  def labelled(self, env: str, level: str) -> str:
    """How many training episodes (and steps) each f labels, seed 0's draw: a share of our smaller datasets
    labels fewer episodes than the same share of D4RL's (about 1,000 episodes and 1M steps on expert data)."""
    configs = {
      f: parse(self.config(Model(env, level, MTM_RECIPE, 0, labels=f)), training=False).data for f in self.scale["fractions"]
    }
    # one load: the shares differ in which training episodes keep actions, not in the split
    first = next(iter(configs.values()))
    train, _ = split_by_config(data.load(first)[1], first)
    lengths = [len(e[STATES]) for e in train]
    counts = []
    for f, config in configs.items():
      labelled = labelled_episodes(config, train)
      steps = sum(lengths[i] for i in labelled)
      counts.append(f"{f:.0%}: {len(labelled)} of {len(train)} ({steps:,} of {sum(lengths):,} steps)")
    return "Labelled training episodes, seed 0's draw: " + "; ".join(counts) + "."

  def run(self) -> str:
    title = f"# Heteromodal MTM ({self.harness.scale_name} scale)"
    return self.report_per_dataset(title, self._recipe, self.tables, self._section)

  def _recipe(self) -> str:
    s = self.scale
    share = self.config(Model(self.envs[0], self.levels[0])).data.labelled_share  # the configs' value, not a copy of it
    budget = ""
    if s["mtm_budget"] != 1:
      budget = f"; both MTMs and the MLP specialists train {s['mtm_budget']}x those steps"
    return (
      f"Our datasets (`experiments/make_dataset.py locomotion`), D4RL-normalised with their own references. "
      f"At each share f of the training episodes that keeps its actions: models at {self.sizes()}{budget}; "
      f"{len(self.seeds['heteromodal'])} seed(s), each drawing its own labelled "
      f"episodes, heteromodal MTM drawing at least {share:.0%} of its training windows from the labelled ones "
      f"(`data.labelled_share` {share:g}; the reference MTM alternates labelled and state-only batches); final "
      f"checkpoints; {s['episodes']} rollout episodes per model and seed, RCBC at the return "
      f"target `{PRIMARY_TARGET}`; inverse dynamics and imagined states (rcbc_imagine's first pass) as held-out "
      "MSE over the data's mean squared one-step change of the predicted modality (the last 5 % of episodes, all "
      "labelled, are held out), each model asked with its own training's mask "
      "parameters (`coverage.choose`; below each table). Cells: mean [95 % "
      "bootstrap interval] over seeds, each seed's value and the share of episodes that reached the time limit; "
      "no interval below 3 seeds; n/a: not trained at this scale."
    )

  def _section(self, env: str, level: str, measured: tuple[dict, dict]) -> list:
    tables, asked = measured
    out = [f"## {env} {level}", self.labelled(env, level)]
    labels = {
      "bc": "BC score",
      "rcbc": "RCBC score",
      "rcbc_imagine": "rcbc_imagine score (the reference's control)",
      "imagine": "imagined states, rcbc_imagine's first pass: s[1..] from s[0] and the return (MSE / one-step)",
      "inverse_dynamics": "inverse dynamics (MSE / one-step)",
      LEVELLED: "held-out BC loss, last evaluation / halfway (near 1: levelled off; above 1: rising again)",
    }
    for task, label in labels.items():
      fmt = "{:.3g}" if task in (*ERRORS, LEVELLED) else "{:.1f}"
      rows = [[f"{f:.0%}", *[cell_text(t[task][col], fmt) for col in COLUMNS]] for f, t in tables.items()]
      out += [f"### {label}", markdown_table(["labelled share f", *COLUMNS], rows)]
      if task == "imagine":  # its states lie up to T - 1 steps ahead: 1.0 is not its no-change error
        out.append(f"No change (every later state predicted as s[0]) scores {self.no_change(env, level, task):.3g}.")
    if asked:
      out.append(f"Held-out errors asked: {asked_text(asked)}.")
    out += self._gap_lines(tables)
    name = f"heteromodal_{env}_{level}.png"
    plots.lines(
      os.path.join(self.harness.out, name),
      {
        f"{col} {task.upper()}": {f: t[task][col] for f, t in tables.items()}
        for task in ("bc", "rcbc", "rcbc_imagine")
        for col in ("MTM (labelled)", "heteromodal MTM")
      },
      "share of training episodes with actions",
      "normalised score",
      f"Heteromodal MTM: {env} {level}",
      log_x=True,
    )
    out.append(f"![{env}]({name})")
    out.append(claim_lines(heteromodal_claims(tables)))
    if env in PAPER:
      out.append(
        "The paper at f = 1 % on D4RL {} expert: MTM (labelled) {:g}, heteromodal MTM {:g}, MLP BC on all "
        "labels {:g} (reference points on other data: D4RL's expert sets hold about 1M steps, so its f = 1 % "
        "labels about 10k, where ours label the steps named above).".format(env, *PAPER[env])
      )
    return out

  @staticmethod
  def _gap_lines(tables: dict) -> list:
    """The BC models' expert gap at each f (none where the data is not one expert's)."""
    gaps = {f: t[GAP] for f, t in tables.items() if any(t[GAP].values())}
    if not gaps:
      return []
    rows = [row for f, by_column in gaps.items() for row in gap_rows(f"{f:.0%}: ", by_column, COLUMNS)]
    return [
      "### BC's action error against the expert",
      gap_text([g for by_column in gaps.values() for g in by_column.values()]),
      markdown_table(["labelled share f: action error", *COLUMNS], rows),
    ]


def heteromodal_claims(tables: dict) -> list:
  """(claim, verdict, evidence): heteromodal MTM beats the labelled-only MTM (BC, RCBC and the reference's
  rcbc_imagine), seed by seed (the arms share each seed's labelled episodes), most at the smallest f; and, the
  mechanism the paper's gain would come from, it imagines held-out states better (rcbc_imagine's first pass)."""
  out = []
  lower = _paired_over_f(tables, "imagine", "MTM (labelled)", "heteromodal MTM")
  if lower:
    out.append(
      (
        "heteromodal MTM imagines held-out states with less error than MTM on the labelled episodes (every f)",
        every(g.above(0) for g in lower.values()),
        "labelled-only less heteromodal error, " + ", ".join(f"f={f:.0%}: {cell_text(g, '{:+.3g}')}" for f, g in lower.items()),
      )
    )
  for task in ("bc", "rcbc", "rcbc_imagine"):
    gains = _paired_over_f(tables, task, "heteromodal MTM", "MTM (labelled)")
    if not gains:
      continue
    evidence = ", ".join(f"f={f:.0%}: {cell_text(g, '{:+.1f}')}" for f, g in gains.items())
    out.append(
      (
        f"heteromodal MTM beats MTM on the labelled episodes ({task.upper()}, every f)",
        every(g.above(0) for g in gains.values()),
        evidence,
      )
    )
    if len(gains) > 1:
      smallest = min(gains)
      others = [g for f, g in gains.items() if f != smallest]
      # decided where the smallest f's gain beats every other f's, seed by seed
      verdict = every(paired(gains[smallest], g).above(0) for g in others)
      out.append((f"the gain is largest at the smallest f ({task.upper()})", verdict, evidence))
  return out


def _paired_over_f(tables: dict, task: str, a: str, b: str) -> dict:
  """{f: column a - column b on ``task``, seed by seed} at each f where both columns were measured."""
  return {f: paired(t[task][a], t[task][b]) for f, t in tables.items() if t[task][a] and t[task][b]}
