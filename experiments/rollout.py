"""Roll a trained model out on the environment its Minari dataset recovers; print and write its normalised score.

python -m experiments.rollout --workdir runs/loco/hopper_medium --task rcbc --episodes 100 [--target_rule start:1.0]
    [--plan_candidates 32 --plan_noise 0.1]

Writes WORKDIR/rollout_TASK.json (rollout_TASK_planned_N_NOISE.json when planned). Tasks: bc, rcbc, rcbc_imagine
(mtm_jax.envs.rollout); --plan_candidates plans the rcbc task with the model (mtm_jax.planning).
"""

import json
import os

from absl import flags

from experiments import cli
from mtm_jax.checkpoint import load_checkpoint
from mtm_jax.envs import rollout
from mtm_jax.errors import UserError
from mtm_jax.eval.model_rollouts import score_checkpoint
from mtm_jax.run_log import EVAL, RunLog

_WORKDIR = flags.DEFINE_string("workdir", None, "Workdir of a training run.")
_TASK = flags.DEFINE_enum("task", "rcbc", list(rollout.ROLLOUT_TASKS), "Rollout task.")
_EPISODES = flags.DEFINE_integer("episodes", 100, "Evaluation episodes.")
_TARGET_RULE = flags.DEFINE_string("target_rule", "", "Return target: start:Q, fraction:P, fixed:V or best:M; empty = the run's.")
_NUM_ENVS = flags.DEFINE_integer("num_envs", 50, "Environments stepped together (one model call per step for all).")
_PLAN_CANDIDATES = flags.DEFINE_integer("plan_candidates", 0, "Plan rcbc with this many candidates per step (0: no planning).")
_PLAN_NOISE = flags.DEFINE_float("plan_noise", 0.1, "Planning candidates' perturbation, a fraction of the action half-range.")
flags.mark_flags_as_required(["workdir"])


def main():
  if _EPISODES.value < 1 or _NUM_ENVS.value < 1:
    raise UserError(f"--episodes={_EPISODES.value} and --num_envs={_NUM_ENVS.value} must be at least 1")
  planner = dict(num_candidates=_PLAN_CANDIDATES.value, noise=_PLAN_NOISE.value) if _PLAN_CANDIDATES.value else None
  ckpt = load_checkpoint(_WORKDIR.value)
  out = score_checkpoint(
    ckpt, _TASK.value, _EPISODES.value, target_rule=_TARGET_RULE.value or None, num_envs=_NUM_ENVS.value, planner=planner
  )
  name = _TASK.value if planner is None else f"{_TASK.value}_planned_{_PLAN_CANDIDATES.value}_{_PLAN_NOISE.value:g}"
  target = "" if out["target"] is None else f", target {out['target']:.4g} ({out['target_rule']})"
  planned = "" if planner is None else f", planned ({_PLAN_CANDIDATES.value} candidates, noise {_PLAN_NOISE.value:g})"
  print(f"{out['env_id']} {out['task']}{planned} at step {out['step']}, {out['episodes']} episodes{target}:")
  print("  asked: " + "; ".join(out["asked"].values()))  # how each mask was asked (chosen by mask coverage)
  print("  return {:.1f} ± {:.1f}   (dataset's own episodes: {:.1f} ± {:.1f})".format(*out["return"], *out["dataset_return"]))
  if "score" in out:
    print("  normalised score {:.1f} ± {:.1f}   (dataset's own: {:.1f} ± {:.1f})".format(*out["score"], *out["dataset_score"]))
  print(f"  {out['reached_time_limit']:.0%} of the episodes reached the time limit")
  path = os.path.join(_WORKDIR.value, f"rollout_{name}.json")
  with open(path, "w") as f:
    json.dump(out, f, indent=2)
  values = {f"rollout/{name}/return": out["return"][0]}
  if "score" in out:
    values[f"rollout/{name}/score"] = out["score"][0]
  with RunLog(_WORKDIR.value, EVAL) as log:  # the history across evaluations, for plot_metrics.py and TensorBoard
    log.write(out["step"], values)
  print(f"wrote {path}")


if __name__ == "__main__":
  cli.run(main)
