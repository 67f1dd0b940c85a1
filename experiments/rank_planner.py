"""Does a trained model's planner rank its candidates by the returns they earn? Each candidate played out.

python -m experiments.rank_planner --workdir runs/loco/hopper_medium [--num_candidates 32 --noise 0.1]
    [--episodes 5 --steps 25,50,100,200 --target_rule start:1.0]

At each decision step of plain-RCBC validation episodes the planner (mtm_jax.planning) scores its candidates,
and each is played out in the simulator (mtm_jax.eval.planner_ranking). Prints the means over the decisions
and writes WORKDIR/planner_ranking_<settings>.json with every decision's values and earned returns.
"""

import json
import os

from absl import flags

from experiments import cli
from mtm_jax.checkpoint import load_checkpoint
from mtm_jax.errors import UserError
from mtm_jax.eval.planner_ranking import planner_ranking

_WORKDIR = flags.DEFINE_string("workdir", None, "Workdir of a training run.")
_CANDIDATES = flags.DEFINE_integer("num_candidates", 32, "Candidate action sequences per decision.")
_NOISE = flags.DEFINE_float("noise", 0.1, "The candidates' perturbation, as a fraction of the action half-range.")
_EPISODES = flags.DEFINE_integer("episodes", 5, "Plain-RCBC validation episodes to decide in.")
_STEPS = flags.DEFINE_list("steps", ["25", "50", "100", "200"], "Decision steps of each episode.")
_TARGET_RULE = flags.DEFINE_string("target_rule", "", "Return target: start:Q, fraction:P, fixed:V or best:M; empty = the run's.")
flags.mark_flags_as_required(["workdir"])


def main():
  try:
    steps = [int(s) for s in _STEPS.value]
  except ValueError:
    raise UserError(f"--steps must be whole numbers separated by commas, got {','.join(_STEPS.value)}") from None
  planner = dict(num_candidates=_CANDIDATES.value, noise=_NOISE.value)
  ckpt = load_checkpoint(_WORKDIR.value)
  out = planner_ranking(ckpt, _EPISODES.value, steps, planner=planner, target_rule=_TARGET_RULE.value or None)
  if not out["decisions"]:
    raise UserError(f"no episode reached a decision step ({','.join(map(str, steps))}); choose earlier --steps")
  print(
    f"{len(out['decisions'])} decisions of {out['candidates']} candidates over {out['horizon']} planned steps "
    f"(step {ckpt.step}; earned returns in {out['units']}):"
  )
  lines = (
    ("rank correlation of values and earned returns", out["rank_correlation"]),
    ("the planner's choice less the proposal", out["chosen_gain"]),
    ("a candidate at random less the proposal", out["random_gain"]),
    ("the best candidate less the proposal", out["headroom"]),
  )
  for what, value in lines:
    print(f"  {what:<48}{value:+.4f}")
  print(f"  {'earned returns spread over the candidates':<48}{out['spread']:.4f}")
  settings = f"noise{_NOISE.value:g}_n{_CANDIDATES.value}_{_EPISODES.value}ep_steps{'-'.join(map(str, sorted(set(steps))))}"
  rule = _TARGET_RULE.value.replace(":", "")
  path = os.path.join(_WORKDIR.value, f"planner_ranking_{settings}{'_' + rule if rule else ''}.json")
  with open(path, "w") as f:
    json.dump(out, f, indent=2)
  print(f"wrote {path}")


if __name__ == "__main__":
  cli.run(main)
