"""MTM representations for offline TD3 (the MTM paper's representation experiments), on our datasets.

Per (env, level) and seed: an MTM pretrained on the dataset with that seed (``configs/locomotion.py``, the MTM
study's recipe), then offline TD3 learning curves with four inputs (``td3.INPUTS``): raw states; the MTM's state
representation, frozen; the same, fine-tuned; and a frozen state-action representation for the critic. Plain TD3
on the broad ``full-replay`` data (the paper used reward-free exploration data), TD3+BC (alpha 2.5) on
``medium-replay``.
A seed's runs on a representation share its MTM, so an interval over seeds spans the pretraining's spread as
well as TD3's.
Reported: normalised score against gradient steps (mean ± s.e. over seeds, PNG), the final score, and the
updates each variant needs to reach a fixed score: 90 % of raw TD3's final level, the paper's yardstick (of the best
variant's where raw TD3 ends no higher than it started).

A locomotion study (``studies.locomotion``) with its own scales and one part: the MTM study's datasets, MTM
configs and caching; a TD3 run checkpoints at every evaluation (``agents.td3_offline``), so a killed study resumes
mid-curve.
"""

from __future__ import annotations

import dataclasses
import os
import time

from mtm_jax.agents import td3_offline
from mtm_jax.agents.td3 import INPUTS, TD3Config
from mtm_jax.envs.locomotion import dataset_id
from mtm_jax.eval import plots
from studies import harness
from studies.locomotion import LocomotionStudy, Model, combine, unit
from studies.report import cell_text, claim_lines, markdown_table, over_seeds

LABELS = {
  "raw": "TD3, raw states",
  "state": "MTM state rep. (frozen)",
  "state_finetune": "MTM state rep. (fine-tuned)",
  "state_action": "MTM state-action rep. for the critic",
}
BC_ALPHA = {"full-replay": 0.0, "medium-replay": 2.5}  # plain TD3 on broad data, TD3+BC on mixed-quality data
THRESHOLD = 0.9  # of raw TD3's final score (or the best variant's, where raw TD3 does not learn): the yardstick
# The MTM each TD3 run reads: a seed's own (a cache made with one MTM for every seed is refused, not mixed in).
PRETRAINING = "an MTM per seed"
_COMMON = dict(inputs=INPUTS, pretraining=PRETRAINING)
SCALES = {
  # A pipeline check: raw TD3 and the fine-tuned encoder (tests/test_td3.py trains every input mode).
  "smoke": dict(
    pretraining=PRETRAINING,
    envs=("hopper",),
    levels=("full-replay",),
    inputs=("raw", "state_finetune"),
    seeds=dict(representation=1),
    updates=20,
    eval_every=10,
    eval_episodes=2,
    td3_batch=32,
    hidden=(32, 32),
  ),
  # Sized for a 2-core CPU: Hopper, the MTM study's small MTM. With a representation (the encoder runs in
  # every update) each 2.5k updates took 68-81 s on cores shared with another study, 13.5-16 min per run at
  # 30k and hours for the 24 runs: 10k it is (77 min for 3 seeds with one MTM per dataset, measured; 5 seeds,
  # the paper's count, each with its MTM of about 3 min, about 2.5 h).
  "small": dict(
    _COMMON,
    envs=("hopper",),
    levels=("full-replay", "medium-replay"),
    seeds=dict(representation=5),
    updates=10_000,
    eval_every=1_000,
    eval_episodes=10,
    td3_batch=256,
    hidden=(256, 256),
  ),
  # The paper's budget (100k updates, batch 1024, 5 seeds) and the full MTM recipe: an accelerator.
  "full": dict(
    _COMMON,
    envs=("hopper", "halfcheetah", "walker2d"),
    levels=("full-replay", "medium-replay"),
    seeds=dict(representation=5),
    updates=100_000,
    eval_every=5_000,
    eval_episodes=10,
    td3_batch=1024,
    hidden=(256, 256),
  ),
}


class RepresentationStudy(LocomotionStudy):
  """One representation study in ``out``: pretrains, trains and evaluates what is missing, writes report.md."""

  name = "representation"
  scales = SCALES

  def curve(self, env: str, level: str, inputs: str, seed: int, mtm: harness.Trained) -> list:
    """One TD3 run's learning curve (cached; the run itself resumes from its last evaluation). The cache records
    the checksum of the data it trained on: a seed's runs, which the report sets against each other, must share
    one realization of the data (LocomotionStudy.pair; a curve cached before that was recorded pairs with any)."""
    s = self.scale
    td3 = TD3Config(hidden=tuple(s["hidden"]), batch_size=s["td3_batch"], bc_alpha=BC_ALPHA.get(level, 0.0), inputs=inputs)
    config = td3_offline.OfflineConfig(
      dataset_id(env, level, self.harness.scale_name),
      td3,
      updates=s["updates"],
      eval_every=s["eval_every"],
      eval_episodes=s["eval_episodes"],
      seed=seed,
      representation="" if inputs == "raw" else os.path.abspath(mtm.folder),
    )
    name = f"{env}_{level}_{inputs}_seed{seed}"
    self.harness.uses(f"td3_{name}", dataclasses.asdict(config))

    key, here = unit("representation", env, level, seed), self.checksum(env, level)
    if inputs != "raw":  # the seed's MTM joins its runs: a representation learned on other data is refused too
      self.pair(key, self.harness.realization(mtm.name) or here, mtm.name)

    def compute():
      self.pair(key, here, f"TD3 {inputs}")  # refused before it trains, where the seed's other runs are on other data
      # the same config, with the MTM trained first where it is not (its workdir is mtm.folder)
      trained = config if inputs == "raw" else dataclasses.replace(config, representation=os.path.abspath(mtm.workdir))
      started = time.time()
      out = td3_offline.train(trained, os.path.join(self.harness.out, "td3", name))
      self.harness.spent("TD3", started)
      self.log(f"  {env} {level} {inputs} seed {seed}: final score {out[-1]['score'][0]:.1f}")
      return {"curve": out, "data": here}

    run = self.harness.measured(f"td3|{env}|{level}|{inputs}|seed{seed}", compute)
    if isinstance(run, list):  # cached before runs recorded their data
      return run
    self.pair(key, run["data"], f"TD3 {inputs}")
    return run["curve"]

  def curves(self, env: str, level: str) -> dict:
    """{inputs: {step: SeedCell over seeds}}."""
    mtms = {seed: self.trained("MTM pretraining", Model(env, level, seed=seed)) for seed in self.seeds["representation"]}
    out = {}
    for inputs in self.scale["inputs"]:
      runs = [self.curve(env, level, inputs, seed, mtm) for seed, mtm in mtms.items()]
      steps = [point["step"] for point in runs[0]]
      out[inputs] = {step: combine([r[i]["score"][0] for r in runs]) for i, step in enumerate(steps)}
    return out

  def run(self) -> str:
    title = f"# MTM representations for offline TD3 ({self.harness.scale_name} scale)"
    return self.report_per_dataset(title, self._recipe, self.curves, self._section)

  def _recipe(self) -> str:
    s = self.scale
    return (
      f"Our datasets (`experiments/make_dataset.py locomotion`), D4RL-normalised with their own references. "
      f"An MTM per dataset and seed (`configs/locomotion.py`, {self.sizes()}), which the seed's TD3 runs on a "
      "representation share; its representation of a state is the encoder's output at that state's token alone "
      "(`mtm_jax.agents.representation`). TD3 (`mtm_jax.agents.td3`): hidden "
      f"{tuple(s['hidden'])}, batch {s['td3_batch']}, {s['updates']} updates, evaluated every "
      f"{s['eval_every']} on {s['eval_episodes']} episodes; {len(self.seeds['representation'])} seed(s). "
      f"Plain TD3 on full-replay, TD3+BC (alpha {BC_ALPHA['medium-replay']}) on medium-replay. Cells: mean "
      "[95 % bootstrap interval] over seeds, and each seed's value; no interval below 3 seeds."
    )

  def _section(self, env: str, level: str, curves: dict) -> list:
    final = {inputs: c[max(c)] for inputs, c in curves.items()}
    target, whose = yardstick(curves)
    reach = {inputs: steps_to_reach(c, target) for inputs, c in curves.items()}
    rows = [[LABELS[i], cell_text(final[i]), _steps(reach[i])] for i in curves]
    title = f"{'TD3+BC' if BC_ALPHA.get(level) else 'TD3'} on {env} {level}"
    name = f"td3_{env}_{level}.png"
    plots.lines(
      os.path.join(self.harness.out, name), {LABELS[i]: c for i, c in curves.items()}, "gradient steps", "normalised score", title
    )
    claims = []
    for i in curves:
      if i != "raw":
        saved = updates_saved(curves["raw"], curves[i], target)
        claims.append(
          (
            f"{LABELS[i]} reaches {target:.1f} in fewer updates than raw TD3",
            saved.above(0),
            f"mean curves {_steps(reach[i])} against {_steps(reach['raw'])}; updates saved, seed by seed: "
            + cell_text(saved, "{:+,.0f}"),
          )
        )
    claims = claim_lines(claims)
    if whose != "raw TD3":
      claims += "\n- raw TD3 ends no higher than it started, so the yardstick is the best variant's final score"
    header = ["inputs", "final score", f"updates to reach {target:.1f} ({THRESHOLD:.0%} of {whose}'s final)"]
    return [f"## {title}", markdown_table(header, rows), f"![{env} {level}]({name})", claims]


def yardstick(curves: dict) -> tuple[float, str]:
  """(the score to reach, whose final score it is a share of): THRESHOLD of raw TD3's final score, the paper's.
  Raw TD3 that ends no higher than it started gives none (a share of a score below the untrained one is reached
  at step 0), so there the best variant's final score stands in. curves: {inputs: {step: SeedCell}}."""
  final = {inputs: c[max(c)][0] for inputs, c in curves.items()}
  if final["raw"] > curves["raw"][min(curves["raw"])][0]:
    return THRESHOLD * final["raw"], "raw TD3"
  return THRESHOLD * max(final.values()), "the best variant"


def steps_to_reach(curve: dict, target: float, seed: int | None = None) -> int | None:
  """The first evaluated step whose score is at least ``target`` (None: never): the mean over seeds, or seed
  number ``seed``'s of a curve of SeedCells."""
  score = (lambda cell: cell[0]) if seed is None else (lambda cell: cell.values[seed])
  return next((step for step in sorted(curve) if score(curve[step]) >= target), None)


def updates_saved(raw: dict, variant: dict, target: float):
  """Per seed (the runs of a seed share it), raw TD3's updates to reach ``target`` less the variant's: a
  SeedCell. A run that never reaches it counts one evaluation past its last step, so a gain is then a lower
  bound and a loss an upper one."""
  steps = sorted(raw)
  never = steps[-1] + (steps[-1] - steps[-2] if len(steps) > 1 else 1)
  reach = lambda curve, seed: steps_to_reach(curve, target, seed) or never  # noqa: E731
  return over_seeds([reach(raw, s) - reach(variant, s) for s in range(len(raw[steps[-1]].values))])


def _steps(step) -> str:
  return "not reached" if step is None else f"{step:,}"
