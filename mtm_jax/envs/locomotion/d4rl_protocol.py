"""The D4RL protocol on our own SAC run, written as Minari datasets ``mtm_jax/<env>/<level>-v0``.

expert          rollouts of the expert snapshot (``expert_index``: the final one unless a better one beats it beyond noise)
medium          rollouts of the snapshot closest to a third of the expert's return when training first gets there
medium-replay   the replay buffer up to that snapshot
full-replay     the whole replay buffer of the training
random          rollouts of a randomly initialised policy
medium-expert   medium + expert
Rollouts sample from the (stochastic) policy, as D4RL's did. ``ref_min_score`` / ``ref_max_score`` are the
mean returns of the random and expert rollouts on the same environment version (D4RL's convention).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import warnings

import gymnasium as gym
import jax
import numpy as np

from mtm_jax.agents import replay as replay_lib
from mtm_jax.agents import sac_train
from mtm_jax.envs.locomotion import ENVS, LEVELS, dataset_id
from mtm_jax.errors import UserError
from mtm_jax.evaluate import rollout, score

ROLLOUT_ENVS = 10  # episodes stepped together while recording
PROTOCOL = "d4rl-sac-v2"  # names the recipe below; a dataset records it, a study asks for it (v1: 150k steps, the first
# SAC settings, the final snapshot as expert, 5 evaluation episodes)


@dataclasses.dataclass(frozen=True)
class Scale:
  sac_steps: int  # SAC environment steps
  dataset_steps: int  # steps per rollout level (random, medium, expert)
  eval_every: int  # SAC steps between snapshots
  checkpoint_every: int  # SAC steps between checkpoints: at most this much work is lost to a kill


SCALES = {
    "smoke": Scale(3_000, 2_000, 500, 1_000),
    "small": Scale(150_000, 100_000, 5_000, 25_000),
    "full": Scale(1_000_000, 1_000_000, 20_000, 50_000),  # D4RL's sizes
}


def run_config(env: str, scale: Scale, seed: int) -> sac_train.RunConfig:
  """The SAC run behind an environment's datasets at a scale."""
  return sac_train.RunConfig(ENVS[env], total_steps=scale.sac_steps, start_steps=min(10_000, scale.sac_steps // 10),
                             seed=seed, eval_every=scale.eval_every, checkpoint_every=scale.checkpoint_every)


def record(result: sac_train.Result, actor, env_id: str, steps: int, seed: int) -> list[dict]:
  """Whole episodes of the sampled policy until at least ``steps`` steps are recorded."""
  envs = [gym.make(env_id) for _ in range(ROLLOUT_ENVS)]
  key = jax.random.key(seed)
  episodes, total, batch = [], 0, 0
  while total < steps:
    policy = sac_train.make_policy(result.agent, actor, result.action_low, result.action_high, jax.random.fold_in(key, batch))
    run = rollout.run(envs, policy, seeds=[seed * 1_000_003 + batch * ROLLOUT_ENVS + i for i in range(ROLLOUT_ENVS)])
    for i in range(ROLLOUT_ENVS):
      if total < steps:
        episodes.append(run.episode(i))
        total += int(run.lengths[i])
    batch += 1
  return episodes


def expert_index(evals: list[dict]) -> int:
  """The final snapshot, unless the best one beats it by more than twice the standard error of their difference.

  Why not simply the best: an argmax over ~50 noisy means picks the luckiest evaluation, and the final policy
  has trained the longest; why not simply the final: SAC's return can collapse in its last evaluations (the
  first Hopper run ended at 1,680 after peaking at 2,888), and D4RL's expert is a policy that does not fall.
  """
  def se(e):
    return e.get("return_std", 0.0) / max(e.get("episodes", 1), 1) ** 0.5

  final = len(evals) - 1
  best = int(np.argmax([e["return_mean"] for e in evals]))
  gap = evals[best]["return_mean"] - evals[final]["return_mean"]
  return best if gap > 2.0 * (se(evals[best]) ** 2 + se(evals[final]) ** 2) ** 0.5 else final


def medium_index(evals: list[dict], expert: int | None = None) -> int:
  """The snapshot closest to a third of the expert's evaluation return, among those up to the first
  that reaches it: the policy an early-stopped training would have given (D4RL's "medium"). SAC's returns
  dip after its first peaks, and a post-collapse snapshot would make medium-replay nearly the full buffer."""
  goal = evals[len(evals) - 1 if expert is None else expert]["return_mean"] / 3.0
  first = 1 if len(evals) > 1 else 0  # step 0 is the untrained policy (and would leave medium-replay empty)
  reached = next((i for i in range(first, len(evals)) if evals[i]["return_mean"] >= goal), len(evals) - 1)
  return first + int(np.argmin([abs(e["return_mean"] - goal) for e in evals[first : reached + 1]]))


def make_levels(result: sac_train.Result, env_id: str, steps: int, seed: int) -> tuple[dict, dict]:
  """(level -> episodes in environment units, the medium snapshot's evaluation) of one finished SAC run."""
  medium = medium_index(result.evals)
  random_actor = jax.jit(result.agent.init)(jax.random.key(seed + 7919)).actor
  to_env = lambda eps: [  # noqa: E731
      {**e, "actions": sac_train.to_env_units(e["actions"], result.action_low, result.action_high).astype(np.float32)}
      for e in eps]
  levels = {
      "random": record(result, random_actor, env_id, steps, seed + 1),
      "medium": record(result, result.actor(medium), env_id, steps, seed + 2),
      "expert": record(result, result.actor(len(result.evals) - 1), env_id, steps, seed + 3),
      "medium-replay": to_env(replay_lib.episodes(result.replay, result.num_envs, rows=result.evals[medium]["step"])),
      "full-replay": to_env(replay_lib.episodes(result.replay, result.num_envs)),
  }
  levels["medium-expert"] = levels["medium"] + levels["expert"]
  return levels, result.evals[medium]


def write(dataset_id_: str, env_id: str, episodes: list[dict], ref_min: float, ref_max: float, metadata: dict):
  """Writes (replacing any dataset of that id) one level as a Minari dataset with the environment spec."""
  import minari
  from minari.data_collector import EpisodeBuffer

  if not episodes:
    raise UserError(f"{dataset_id_}: no episodes to write (the SAC run is too short for this level)")
  buffers = [
      EpisodeBuffer(id=i, observations=e["observations"].astype(np.float64), actions=e["actions"],
                    rewards=np.asarray(e["rewards"], np.float64).tolist(), terminations=np.asarray(e["terminations"]).tolist(),
                    truncations=np.asarray(e["truncations"]).tolist())
      for i, e in enumerate(episodes)
  ]
  if dataset_id_ in minari.list_local_datasets():
    with contextlib.redirect_stdout(io.StringIO()):  # Minari prints a line per deletion
      minari.delete_dataset(dataset_id_)
  with warnings.catch_warnings():  # Minari nags about optional fields (e-mail)
    warnings.simplefilter("ignore", UserWarning)
    dataset = minari.create_dataset_from_buffers(
        dataset_id_, buffers, env=env_id, eval_env=env_id, algorithm_name="SAC (mtm_jax, D4RL protocol)", author="mtm_jax",
        code_permalink="mtm_jax/envs/locomotion/d4rl_protocol.py", ref_min_score=ref_min, ref_max_score=ref_max,
        description=f"{env_id}, {dataset_id_.split('/')[-1]}: made here by the D4RL protocol from a SAC run in JAX.",
    )
  dataset.storage.update_metadata({"generator": metadata})
  return dataset


def make(env: str, workdir: str, *, sac_steps: int = 150_000, dataset_steps: int = 100_000, seed: int = 0,
         levels=LEVELS, progress: bool = True) -> dict:
  """Trains (or resumes) SAC on ``env`` and writes every level; returns a summary per level."""
  if env not in ENVS:
    raise UserError(f"unknown locomotion env {env!r}; choose from {list(ENVS)}")
  unknown = set(levels) - set(LEVELS)
  if unknown:
    raise UserError(f"unknown levels {sorted(unknown)}; choose from {list(LEVELS)}")
  env_id = ENVS[env]
  run = sac_train.RunConfig(env_id, total_steps=sac_steps, start_steps=min(5_000, sac_steps // 10), seed=seed,
                            eval_every=max(sac_steps // 40, 1), checkpoint_every=max(sac_steps // 6, 1))
  result = sac_train.train(run, workdir, progress=progress)
  episodes, medium = make_levels(result, env_id, dataset_steps, seed)
  returns = {level: np.array([e["rewards"].sum() for e in eps]) for level, eps in episodes.items()}
  ref_min, ref_max = float(returns["random"].mean()), float(returns["expert"].mean())
  facts = {"seed": seed, "sac": dataclasses.asdict(run), "snapshots": result.evals, "medium_snapshot": medium,
           "dataset_steps": dataset_steps}
  summary = {"env_id": env_id, "ref_min_score": ref_min, "ref_max_score": ref_max, "medium_snapshot": medium,
             "sac_evals": result.evals, "levels": {}}
  for level in levels:
    eps = episodes[level]
    write(dataset_id(env, level), env_id, eps, ref_min, ref_max, {**facts, "level": level})
    mean, se = score.mean_se(returns[level])
    summary["levels"][level] = {"episodes": len(eps), "steps": int(sum(len(e["rewards"]) for e in eps)), "return_mean": mean,
                                "return_se": se, "score": float(score.normalized(mean, ref_min, ref_max))}
  return summary
