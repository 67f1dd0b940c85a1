"""Does the planner's value rank its candidates by the returns they earn? Each candidate played out in the simulator.

``mtm_jax.planning`` executes the candidate whose predicted return is highest. Whether that choice can help
depends on two things a rollout score cannot separate: whether the candidates earn different returns at all
(the headroom a perfect ranking would take), and whether the predicted values order them as their earned
returns do. This measures both. Plain RCBC episodes are run; at a few decision steps the planner scores its
candidates on the episode's window, and every candidate is then played out: the episode is replayed from its
reset seed with its own actions up to the decision step (MuJoCo is deterministic, so this restores the state;
checked on every observation and reward up to the step), the candidate's actions over its planned horizon
follow, then plain RCBC to the episode's end. What a candidate earns is the return from the decision step on,
so each decision is judged by its own effect, with the same policy after it for every candidate.

The candidates are played open loop over their horizon, where the planner executes one action and plans again:
so the headroom is what one decision's sequence can change, not what a closed-loop planner could make of it.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from mtm_jax.checkpoint import Checkpoint
from mtm_jax.envs import rollout, score
from mtm_jax.errors import UserError
from mtm_jax.eval import model_rollouts

MEANS = ("rank_correlation", "chosen_gain", "random_gain", "headroom", "spread")  # summary's, over the decisions
REPLAY_TOLERANCE = 1e-9  # the replayed state at a decision step must be the original's, or the test is void


def planner_ranking(
  ckpt: Checkpoint,
  episodes: int,
  steps,
  *,
  planner: dict,
  target_rule: str | None = None,
  seed: int = model_rollouts.VALIDATION_SEED,
) -> dict:
  """The planner's candidates at decision ``steps`` of ``episodes`` plain-RCBC episodes (reset seeds seed,
  seed + 1, ...; validation ones by default: this chooses nothing, and the reported episodes stay untouched),
  each played out. Returns {"decisions": one dict per (episode, step) the episode reached: its "values" (the
  planner's, per candidate; the first is the unperturbed proposal), "earned" (the return from the step on,
  in score points where the dataset has references, else in return units) and "horizon_earned" (over the
  planned horizon alone); and over them the means of "rank_correlation" (Spearman, values against earned),
  "chosen_gain" (earned by the planner's choice less the proposal's), "random_gain" (the candidates' mean less
  the proposal's: a choice at random, the yardstick of the planner's), "headroom" (the best candidate's less
  the proposal's) and "spread" (the standard deviation of earned over candidates); "units", "horizon" (the
  planned steps) and "candidates"}."""
  steps = sorted({int(s) for s in steps})
  if episodes < 1 or not steps or steps[0] < 0:
    raise UserError(f"planner_ranking needs episodes >= 1 and decision steps >= 0; got {episodes} and {steps}")
  config = ckpt.config
  dataset = model_rollouts.recorded(config)
  candidates = planner["num_candidates"]
  envs = [dataset.recover_environment() for _ in range(episodes * candidates)]
  plain = model_rollouts.model_policy(ckpt, "rcbc", envs[0], target_rule=target_rule)
  planned = model_rollouts.model_policy(ckpt, "rcbc", envs[0], target_rule=target_rule, planner=planner)
  scored = {}  # decision step -> (candidates [E, N, K, da], values [E, N], current slot)
  now = [0]  # the step the base policy is at: record() files the planner's scores under it

  def record(params, *window):
    proposals, values, current = planned.act.score(params, *window)
    scored[now[0]] = np.asarray(proposals), np.asarray(values), int(current)
    return proposals[:, 0, int(current)]

  # The planner's windows are laid out exactly as in its own rollouts: the same make_policy, its act recorded.
  scoring = rollout.make_policy(
    record,
    planned.params,
    config.window,
    task="rcbc",
    targets=planned.target,
    return_kind=config.data.returns,
    horizon=planned.horizon,
  )

  def base_policy(h, t):
    if t in steps:
      now[0] = t
      scoring(h, t)
    return plain.policy(h, t)

  reset = [seed + e for e in range(episodes)]
  base = rollout.run(envs[:episodes], base_policy, seeds=reset)
  span, units = None, "return"
  if planned.metadata.get("ref_min_score") is not None:
    low, high = score.references(planned.metadata, config.data.dataset_id)
    span, units = high - low, "score points"

  def earned_from(rewards):  # a return, as a share of the references' span in score points where there is one
    total = rewards.sum(axis=1).reshape(episodes, candidates)
    return total if span is None else score.d4rl_score(total, 0.0, span)

  rows = np.repeat(np.arange(episodes), candidates)  # continuation i plays candidate i % N of episode i // N
  which = np.tile(np.arange(candidates), episodes)
  decisions, horizon = [], None  # horizon: the planned steps at the last decision scored
  for t in steps:
    if t not in scored:  # every episode ended before t
      continue
    cands, values, current = scored[t]
    planned_actions = cands[rows, which, current:]  # [E * N, H, da]: the candidate's current and imagined steps
    horizon = planned_actions.shape[1]

    def continuation(h, s, t=t, planned_actions=planned_actions, horizon=horizon):
      if s < t:
        return base.actions[rows, s]
      if s < t + horizon:
        return planned_actions[:, s - t]
      return plain.policy(h, s)

    # Every continuation runs, those of episodes that ended before t too (they end in their replay), so the
    # plain policy sees one batch shape throughout.
    out = rollout.run(envs, continuation, seeds=[reset[e] for e in rows])
    reached = base.lengths > t
    off = np.concatenate(
      [
        np.abs(out.observations[:, : t + 1] - base.observations[rows, : t + 1]).reshape(len(rows), -1),
        np.abs(out.rewards[:, :t] - base.rewards[rows, :t]),
      ],
      axis=1,
    )[reached[rows]]
    if off.size and off.max() > REPLAY_TOLERANCE:
      raise RuntimeError(
        f"replaying an episode's actions did not restore its state at step {t} (off by {off.max():.2g}): "
        "the environment is not deterministic, so its candidates cannot be played out from the same state"
      )
    earned = earned_from(out.rewards[:, t:])
    horizon_earned = earned_from(out.rewards[:, t : t + horizon])
    for e in np.flatnonzero(reached):
      decisions.append(
        {
          "episode": int(e),
          "step": t,
          "values": values[e].tolist(),
          "earned": earned[e].tolist(),
          "horizon_earned": horizon_earned[e].tolist(),
        }
      )
  return {**summary(decisions), "decisions": decisions, "units": units, "horizon": horizon, "candidates": candidates}


def summary(decisions: list) -> dict:
  """The means over ``decisions`` (planner_ranking's) of each one's MEANS (nan where there are none; a decision
  whose values or earned returns are all equal has no rank correlation and is left out of that mean)."""
  rho, gain, random, headroom, spread = [], [], [], [], []
  for d in decisions:
    values, earned = np.asarray(d["values"]), np.asarray(d["earned"])
    if np.ptp(values) > 0 and np.ptp(earned) > 0:
      rho.append(stats.spearmanr(values, earned).statistic)
    gain.append(earned[np.argmax(values)] - earned[0])
    random.append(earned.mean() - earned[0])  # what a candidate drawn at random earns over the proposal, expected
    headroom.append(earned.max() - earned[0])
    spread.append(earned.std())

  def mean(x):
    return float(np.mean(x)) if x else float("nan")

  return dict(zip(MEANS, map(mean, (rho, gain, random, headroom, spread))))
