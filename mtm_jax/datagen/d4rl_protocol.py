"""The D4RL protocol on our own SAC run, written as Minari datasets ``dataset_id(env, level, scale)``.

expert          rollouts of the expert snapshot (``expert_index``: the final one unless a better one beats it beyond noise)
medium          rollouts of the snapshot closest to a third of the expert's return when training first gets there
medium-replay   the replay buffer up to that snapshot
full-replay     the whole replay buffer of the training
random          rollouts of a randomly initialised policy
medium-expert   medium + expert
Rollouts sample from the (stochastic) policy, as D4RL's did. ``ref_min_score`` / ``ref_max_score`` are the
mean returns of the random and expert rollouts on the same environment version (D4RL's convention). Each
dataset records ``protocol(scale)``, the SAC settings, seed, chosen snapshots, code version and a checksum of
its episodes; ``require`` refuses a dataset made otherwise.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from mtm_jax import checkpoint, seeds
from mtm_jax.agents import replay as replay_lib
from mtm_jax.agents import sac_train
from mtm_jax.data import writer
from mtm_jax.envs import rollout, score
from mtm_jax.envs.locomotion import ENVS, LEVELS, dataset_id
from mtm_jax.errors import UserError

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
  "smoke": Scale(1_000, 600, 250, 500),  # a trial of the pipeline, in seconds
  "small": Scale(150_000, 100_000, 5_000, 25_000),
  "full": Scale(1_000_000, 1_000_000, 20_000, 50_000),  # D4RL's sizes
}


def run_config(env: str, scale: Scale, seed: int) -> sac_train.RunConfig:
  """The SAC run behind an environment's datasets at a scale."""
  return sac_train.RunConfig(
    ENVS[env],
    total_steps=scale.sac_steps,
    start_steps=min(10_000, scale.sac_steps // 10),
    seed=seed,
    eval_every=scale.eval_every,
    checkpoint_every=scale.checkpoint_every,
  )


def record(result: sac_train.Result, actor, env_id: str, steps: int, seed: int) -> list[dict]:
  """Whole episodes of the sampled policy until at least ``steps`` steps are recorded."""
  envs = [gym.make(env_id) for _ in range(ROLLOUT_ENVS)]
  key = jax.random.key(seed)
  episodes, total, batch = [], 0, 0
  while total < steps:
    policy = sac_train.make_policy(result.agent, actor, result.action_low, result.action_high, jax.random.fold_in(key, batch))
    run = rollout.run(envs, policy, seeds=[seeds.data_seed(seed, batch * ROLLOUT_ENVS + i) for i in range(ROLLOUT_ENVS)])
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


def make_levels(result: sac_train.Result, env_id: str, steps: int, seed: int, expert: int, medium: int) -> dict:
  """level -> episodes in environment units, of one finished SAC run and its chosen snapshots."""
  random_actor = jax.jit(result.agent.init)(jax.random.key(seed + 7919)).actor
  to_env = lambda eps: [  # noqa: E731
    {**e, "actions": sac_train.to_env_units(e["actions"], result.action_low, result.action_high).astype(np.float32)} for e in eps
  ]
  levels = {
    "random": record(result, random_actor, env_id, steps, seed + 1),
    "medium": record(result, result.actor(medium), env_id, steps, seed + 2),
    "expert": record(result, result.actor(expert), env_id, steps, seed + 3),
    "medium-replay": to_env(replay_lib.episodes(result.replay, result.num_envs, rows=result.evals[medium]["step"])),
    "full-replay": to_env(replay_lib.episodes(result.replay, result.num_envs)),
  }
  levels["medium-expert"] = levels["medium"] + levels["expert"]
  return levels


def protocol(scale: str) -> str:
  """What a dataset records and a study asks for: the recipe and its scale."""
  return f"{PROTOCOL}/{scale}"


def command(env: str, scale: str, seed: int = 0) -> str:
  """The line that makes an environment's datasets at a scale."""
  return f"python -m experiments.make_dataset locomotion --env={env} --scale={scale}" + (f" --seed={seed}" if seed else "")


def require(env: str, level: str, scale: str) -> str:
  """The dataset id of (env, level) at ``scale``, after checking it was made by this protocol at that scale."""
  id_ = dataset_id(env, level, scale)
  writer.require_protocol(id_, protocol(scale), command(env, scale))
  return id_


def sac_workdir(root: str, env: str, scale: str, seed: int) -> str:
  return os.path.join(root, PROTOCOL, scale, f"{env}-seed{seed}")


def write(dataset_id_: str, env_id: str, episodes: list[dict], ref_min: float, ref_max: float, generator: dict, command_: str):
  """One level as a Minari dataset with the environment spec (replacing that id's only once complete)."""
  from minari.data_collector import EpisodeBuffer

  if not episodes:
    raise UserError(f"{dataset_id_}: no episodes to write (the SAC run is too short for this level)")
  buffers = [
    EpisodeBuffer(
      id=i,
      observations=e["observations"].astype(np.float64),
      actions=e["actions"],
      rewards=np.asarray(e["rewards"], np.float64).tolist(),
      terminations=np.asarray(e["terminations"]).tolist(),
      truncations=np.asarray(e["truncations"]).tolist(),
    )
    for i, e in enumerate(episodes)
  ]
  return writer.write(
    dataset_id_,
    buffers,
    env=env_id,
    algorithm="SAC (mtm_jax, D4RL protocol)",
    code_path="mtm_jax/envs/locomotion/d4rl_protocol.py",
    generator=generator,
    command=command_,
    ref_min_score=ref_min,
    ref_max_score=ref_max,
    description=f"{env_id}, {dataset_id_.split('/')[-1]}: made here by the D4RL protocol ({generator['protocol']}) "
    "from a SAC run in JAX.",
  )


def expert_actions(env: str, scale: str, roots: Sequence[str] = ("runs/sac",)) -> Callable:
  """The policy that sampled (env, expert) at ``scale``, as ``act(observations [N, ds]) -> actions [N, da]``
  (environment units, its mode: the action the data's samples scatter around). It is read from the SAC run the
  dataset records (its seed and expert snapshot), finished where the dataset says it was made or under one of
  ``roots``; a missing run is refused, never trained here (hours)."""
  id_ = require(env, "expert", scale)
  record = writer.provenance(id_)
  seed, step = record["seed"], record["expert_snapshot"]["step"]
  run = run_config(env, SCALES[scale], seed)
  made = [record["sac_workdir"]] if "sac_workdir" in record else []  # datasets made before it was recorded lack it
  workdirs = list(dict.fromkeys(made + [sac_workdir(root, env, scale, seed) for root in roots]))
  finished = [w for w in workdirs if checkpoint.latest_step(w) == run.total_steps]
  if not finished:
    raise UserError(
      f"no finished SAC run behind {id_} in {' or '.join(workdirs)}: the expert is read from the run that sampled the "
      f"data; `{command(env, scale, seed)}` makes both again (new data: its models need a fresh --out)"
    )
  result = sac_train.train(run, finished[0], progress=False)  # finished: restores it, trains nothing
  expert = expert_index(result.evals)
  if result.evals[expert]["step"] != step:
    raise UserError(
      f"{finished[0]}'s expert is its snapshot of step {result.evals[expert]['step']}; {id_} was sampled from step {step}'s"
    )
  agent, actor = result.agent, result.actor(expert)
  return lambda observations: sac_train.to_env_units(
    agent.jit_act(actor, jnp.asarray(observations, jnp.float32)), result.action_low, result.action_high
  )


def make(env: str, scale: str = "small", *, seed: int = 0, root: str = "runs/sac", levels=LEVELS, progress: bool = True) -> dict:
  """Trains (or resumes, under ``root``) SAC on ``env`` and writes every level; returns a summary per level."""
  if env not in ENVS:
    raise UserError(f"unknown locomotion env {env!r}; choose from {list(ENVS)}")
  if scale not in SCALES:
    raise UserError(f"unknown scale {scale!r}; choose from {list(SCALES)}")
  unknown = set(levels) - set(LEVELS)
  if unknown:
    raise UserError(f"unknown levels {sorted(unknown)}; choose from {list(LEVELS)}")
  env_id, sizes = ENVS[env], SCALES[scale]
  run = run_config(env, sizes, seed)
  workdir = sac_workdir(root, env, scale, seed)
  result = sac_train.train(run, workdir, progress=progress)
  expert = expert_index(result.evals)
  medium = medium_index(result.evals, expert)
  episodes = make_levels(result, env_id, sizes.dataset_steps, seed, expert, medium)
  returns = {level: np.array([e["rewards"].sum() for e in eps]) for level, eps in episodes.items()}
  ref_min, ref_max = float(returns["random"].mean()), float(returns["expert"].mean())
  generator = {
    "protocol": protocol(scale),
    "scale": scale,
    "seed": seed,
    "sac": dataclasses.asdict(run),
    "expert_snapshot": result.evals[expert],
    "medium_snapshot": result.evals[medium],
    "dataset_steps": sizes.dataset_steps,
    # where its experts live on the machine that made it: a study whose data another study made reads them here
    "sac_workdir": os.path.abspath(workdir),
  }
  summary = {
    "env_id": env_id,
    "protocol": protocol(scale),
    "seed": seed,
    "ref_min_score": ref_min,
    "ref_max_score": ref_max,
    "expert_snapshot": result.evals[expert],
    "medium_snapshot": result.evals[medium],
    "sac_evals": result.evals,
    "levels": {},
  }
  for level in levels:
    eps = episodes[level]
    id_ = dataset_id(env, level, scale)
    write(id_, env_id, eps, ref_min, ref_max, {**generator, "level": level}, command(env, scale, seed))
    mean, se = score.mean_se(returns[level])
    summary["levels"][level] = {
      "dataset_id": id_,
      "episodes": len(eps),
      "steps": int(sum(len(e["rewards"]) for e in eps)),
      "return_mean": mean,
      "return_se": se,
      "length_mean": float(np.mean([len(e["rewards"]) for e in eps])),
      "score": float(score.d4rl_score(mean, ref_min, ref_max)),
    }
  return summary
