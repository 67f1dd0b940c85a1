"""A trained model rolled out on the environment its Minari dataset recovers, scored D4RL's way."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import jax
import numpy as np

import mtm_jax.envs  # noqa: F401  (quiets MuJoCo's notice about gymnasium's locomotion models)
from mtm_jax import coverage, data, planning, seeds
from mtm_jax.checkpoint import Checkpoint
from mtm_jax.data import splits
from mtm_jax.envs import rollout, score
from mtm_jax.errors import UserError
from mtm_jax.predict import make_predict
from mtm_jax.spec import RETURNS

EVAL_SEED = seeds.reset_seeds("reported", 1)[0]  # evaluation episodes' first reset seed (mtm_jax.seeds)
VALIDATION_SEED = seeds.reset_seeds("validation", 1)[0]  # rollouts that choose a setting (a return target)


def recorded(config):
  """The Minari dataset of a run's config, refused where it records no environment to roll out in."""
  import minari

  if config.data.source != "minari":
    raise UserError(f"rollouts need an environment: data.source is {config.data.source!r}, not a Minari dataset")
  dataset = minari.load_dataset(config.data.dataset_id)
  if dataset.spec.env_spec is None:
    raise UserError(f"{config.data.dataset_id} records no environment spec, so there is no environment to roll out in")
  return dataset


@dataclasses.dataclass(frozen=True)
class ModelPolicy:
  """A checkpoint's ``rollout.run`` policy for one task, and what it was built from."""

  policy: Callable
  target: float | None  # the return target (rcbc tasks), in the units of the model's returns
  rule: str | None  # the rule that gave it
  asked: dict  # how each mask task the rollout uses is asked (coverage.choose)
  held_out: list  # the data's held-out episodes, as training read them
  metadata: dict  # the dataset's
  horizon: int  # the environment's time limit (else the data's longest episode): steps_remaining counts from it
  act: Callable  # what policy calls each step: rollout.make_act's, or planning.make_planner's (with its .score)
  params: dict  # the checkpoint's, as device arrays: act's first argument


def model_policy(ckpt: Checkpoint, task: str, env, *, target_rule: str | None = None, planner: dict | None = None):
  """The ModelPolicy of ``task`` for rollouts on environments like ``env`` (its time limit, action space).

  The return target (rcbc tasks) comes from ``target_rule`` (default: the run's eval.target_rule) over the
  training episodes' return tokens; it follows the data's return kind. ``planner``: keyword arguments of
  ``planning.make_planner`` (num_candidates, noise, seed): the rcbc task planned with the model (MPC).
  """
  if planner is not None and task != "rcbc":
    raise UserError(f"planning acts on the rcbc task (its proposal and target), not {task!r}")
  config = ckpt.config
  # The episodes exactly as training read them (on_nonfinite included), so the target comes from its data.
  spec, all_episodes, metadata = data.load_minari(config.data)
  train, held_out = splits.split_by_config(all_episodes, config.data)
  rule = target_rule or config.eval.target_rule
  target = rollout.return_target(rule, [e[RETURNS][:, 0] for e in train]) if task != "bc" else None
  horizon = env.spec.max_episode_steps or max(len(e[RETURNS]) for e in all_episodes)
  training = coverage.TrainingMasks.of(config)  # a checkpoint's config holds its spec
  chosen, asked = {}, {}  # how the model is asked each mask task the rollout uses, by what it covers
  for mask_task in coverage.rollout_tasks(task) + (("plan_value",) if planner is not None else ()):
    chosen[mask_task], asked[mask_task] = coverage.choose(training, mask_task)
    notice = training.notice(mask_task, chosen[mask_task], what=f"the {task} rollout's {asked[mask_task]}")
    if notice:
      print(notice)
  if planner is None:
    params = chosen.get(task, {})
    act = rollout.make_act(
      make_predict(config, spec),
      config.window,
      task,
      config.masks.return_policy,
      params.get("past_actions", True),
      params.get("history", True),
      chosen.get("imagine_act", {}).get("returns", True),
    )
  else:
    low, high = planning.action_bounds(env.action_space)
    act = planning.make_planner(
      make_predict(config, spec), action_low=low, action_high=high, return_policy=config.masks.return_policy, **planner
    )
  params = jax.tree_util.tree_map(jax.numpy.asarray, ckpt.params)
  policy = rollout.make_policy(
    act, params, config.window, task=task, targets=target, return_kind=config.data.returns, horizon=horizon
  )
  return ModelPolicy(policy, target, rule if target is not None else None, asked, held_out, metadata, horizon, act, params)


def episode_returns(dataset) -> np.ndarray:
  """The return of each of a Minari dataset's episodes: the behaviour that made it."""
  return np.array([e.rewards.sum() for e in dataset.iterate_episodes()])


def run_episodes(envs: list, policy: Callable, episodes: int, seed: int) -> list:
  """``episodes`` rollouts of ``policy``, len(envs) at a time (rollout.run), the i-th from reset seed seed + i."""
  runs = []
  for first in range(0, episodes, len(envs)):
    batch = envs[: min(len(envs), episodes - first)]
    runs.append(rollout.run(batch, policy, seeds=range(seed + first, seed + first + len(batch))))
  return runs


def score_checkpoint(
  ckpt: Checkpoint,
  task: str,
  episodes: int,
  *,
  target_rule: str | None = None,
  num_envs: int = 50,
  seed: int = EVAL_SEED,
  planner: dict | None = None,
) -> dict:
  """Mean ± s.e. return and normalised score of ``episodes`` rollouts of ``model_policy`` (its target_rule and
  planner), beside the dataset's own behaviour, and the share of them that reached the time limit."""
  config = ckpt.config
  dataset = recorded(config)
  envs = [dataset.recover_environment() for _ in range(min(num_envs, episodes))]
  model = model_policy(ckpt, task, envs[0], target_rule=target_rule, planner=planner)
  started = time.perf_counter()
  runs = run_episodes(envs, model.policy, episodes, seed)
  seconds = time.perf_counter() - started
  steps = sum(int(run.lengths.max()) for run in runs)  # lock-step: one policy call per step of the longest episode
  returns = np.concatenate([run.returns for run in runs])
  lengths = [run.lengths for run in runs]
  behaviour = episode_returns(dataset)
  out = {
    "task": task,
    "episodes": episodes,
    "target_rule": model.rule,
    "target": model.target,
    "return": score.mean_se(returns),
    # an episode that reaches the time limit did not fall: on Hopper and Walker2d the score's main driver
    "reached_time_limit": float(np.mean(np.concatenate(lengths) >= model.horizon)),
    "dataset_return": score.mean_se(behaviour),
    "step": ckpt.step,
    "env_id": envs[0].spec.id,
    "seconds": seconds,
    "policy_calls": steps,
    "planner": planner,
    "asked": model.asked,
  }
  if model.metadata.get("ref_min_score") is not None:
    low, high = score.references(model.metadata, config.data.dataset_id)
    out["score"] = score.mean_se(score.d4rl_score(returns, low, high))
    out["dataset_score"] = score.mean_se(score.d4rl_score(behaviour, low, high))
  return out
