"""SAC on a gymnasium environment: collection, fused updates, evaluation snapshots, resumable checkpoints.

E environments are stepped together; after each collection step one jitted call appends their E
transitions to the on-device replay buffer, and a second makes ``updates_per_step * E`` updates in one
scan and returns the next E actions. Every ``eval_every`` environment steps the deterministic policy is scored
on ``eval_episodes`` fresh episodes through the shared rollout loop and its actor parameters are kept as a
snapshot (the D4RL protocol picks its "medium" and "expert" policies among them). A killed run resumes from its newest
checkpoint (agent, replay buffer, snapshots); its environments start new episodes there, and the
episodes open at the kill are marked truncated in the buffer.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from mtm_jax import checkpoint, seeds
from mtm_jax.agents import replay as replay_lib
from mtm_jax.agents.sac import SAC, SACConfig
from mtm_jax.envs import rollout
from mtm_jax.errors import UserError


@dataclasses.dataclass(frozen=True)
class RunConfig:
  env_id: str
  total_steps: int = 200_000  # environment steps, all environments together
  num_envs: int = 1
  start_steps: int = 10_000  # uniform random actions, no updates, before this (jaxrl's 10k)
  updates_per_step: int = 1  # gradient updates per environment step
  eval_every: int = 5_000  # environment steps between snapshots (a multiple of num_envs)
  eval_episodes: int = 20  # deterministic episodes per snapshot: enough to tell a falling policy from a steady one
  checkpoint_every: int = 25_000
  seed: int = 0
  sac: SACConfig = SACConfig()

  def check(self) -> None:
    for name in ("total_steps", "num_envs", "updates_per_step", "eval_every", "eval_episodes", "checkpoint_every"):
      if getattr(self, name) < 1:
        raise UserError(f"SAC {name}={getattr(self, name)} must be at least 1")
    if self.eval_every % self.num_envs or self.checkpoint_every % self.num_envs or self.total_steps % self.num_envs:
      raise UserError(f"SAC total_steps, eval_every and checkpoint_every must be multiples of num_envs={self.num_envs}")


@dataclasses.dataclass
class Result:
  agent: SAC
  state: Any  # SACState
  replay: replay_lib.Replay
  snapshots: Any  # actor params stacked over evaluations [N, ...]
  evals: list[dict]  # {"step", "return_mean", "return_std", "episodes", "length_mean"} per snapshot, in order
  action_low: np.ndarray
  action_high: np.ndarray
  num_envs: int  # the replay buffer's rows interleave this many environments

  def actor(self, index: int):
    return jax.tree_util.tree_map(lambda x: x[index], self.snapshots)


def to_env_units(action_unit, low, high) -> np.ndarray:
  """Maps the agent's [-1, 1] actions onto the action space's bounds."""
  return low + (np.asarray(action_unit) + 1.0) * 0.5 * (high - low)


def make_policy(agent: SAC, actor_params, low, high, key: jax.Array | None = None):
  """A ``rollout.run`` policy: the actor's mode (key None) or samples, in the environment's units."""

  def policy(history, t):
    obs = jnp.asarray(history.observations[:, t], jnp.float32)
    if key is None:
      return to_env_units(agent.jit_act(actor_params, obs), low, high)
    # Step t samples with fold_in(key, t + 1): the keys the committed locomotion datasets were made with.
    unit = agent.jit_act(actor_params, obs, jax.random.fold_in(key, t + 1))
    return to_env_units(unit, low, high)

  return policy


def evaluate(agent: SAC, actor_params, envs, low, high, seed: int) -> rollout.Episodes:
  """Episodes of the deterministic policy, one per environment."""
  policy = make_policy(agent, actor_params, low, high)
  return rollout.run(envs, policy, seeds=[seed + i for i in range(len(envs))])


def train(config: RunConfig, workdir: str, progress: bool = True) -> Result:
  """Trains (resuming from ``workdir``'s newest checkpoint) and returns the agent, buffer and snapshots."""
  config.check()
  os.makedirs(workdir, exist_ok=True)
  E = config.num_envs
  envs = [gym.make(config.env_id) for _ in range(E)]
  eval_envs = [gym.make(config.env_id) for _ in range(config.eval_episodes)]
  obs_space, act_space = envs[0].observation_space, envs[0].action_space
  if not isinstance(act_space, gym.spaces.Box):
    raise UserError(f"SAC needs a continuous (Box) action space; {config.env_id} has {act_space}")
  low, high = act_space.low.astype(np.float64), act_space.high.astype(np.float64)
  obs_dim, action_dim = gym.spaces.flatdim(obs_space), int(np.prod(act_space.shape))
  agent = SAC(config.sac, obs_dim, action_dim)
  base_key = jax.random.key(config.seed)

  num_evals = config.total_steps // config.eval_every + 1  # step 0, then every eval_every steps
  init_key, base_key = jax.random.split(base_key)
  state = jax.jit(agent.init)(init_key)  # one compile, not one per eager op
  tree = {
    "agent": state,
    "replay": replay_lib.init(config.total_steps, obs_dim, action_dim),
    "snapshots": jax.tree_util.tree_map(lambda x: jnp.zeros((num_evals,) + x.shape, x.dtype), state.actor),
  }
  mngr = checkpoint.manager(workdir, max_to_keep=2, items=checkpoint.STATE_ITEMS)
  start, evals = mngr.latest_step(), []
  if start is not None:
    abstract = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)
    tree, meta = checkpoint.restore_state(mngr, start, abstract)
    if meta["config"] != _jsonable(config):
      raise UserError(f"workdir {workdir!r} holds a SAC run with other settings; use a fresh workdir")
    evals = meta["evals"]
    tree["replay"] = replay_lib.mark_truncated(tree["replay"], E)
  start = start or 0

  # Two calls, not one: in one computation that both writes the donated buffer and gathers batches from it, XLA
  # copies the whole buffer on every call (34 ms a step at 1M rows on CPU; 11-12 ms as two calls, at any size).
  add = jax.jit(replay_lib.add, donate_argnums=0)

  def act_and_learn(state, replay, new_obs, key, learn: bool):
    learn_key, act_key = jax.random.split(key)
    metrics = {}
    if learn:
      state, metrics = agent.learn(state, replay, learn_key, config.updates_per_step * E)
      action = agent.act(state.actor, new_obs, act_key)
    else:
      action = jax.random.uniform(act_key, (E, action_dim), minval=-1.0, maxval=1.0)
    return state, action, metrics

  act_and_learn = jax.jit(act_and_learn, static_argnames="learn", donate_argnums=0)

  def collect(tree, transition, new_obs, key, learn: bool):
    replay = add(tree["replay"], *transition)
    state, action, metrics = act_and_learn(tree["agent"], replay, new_obs, key, learn=learn)
    return {**tree, "agent": state, "replay": replay}, action, metrics

  snapshot = jax.jit(lambda snaps, actor, i: jax.tree_util.tree_map(lambda s, a: s.at[i].set(a), snaps, actor), donate_argnums=0)

  def evaluate_now(step):
    nonlocal tree
    index = step // config.eval_every
    tree["snapshots"] = snapshot(tree["snapshots"], tree["agent"].actor, index)
    # In seeds' data block (below its BLOCK for any run seed): these evaluations pick the expert snapshot.
    run = evaluate(agent, tree["agent"].actor, eval_envs, low, high, seed=10_000 * (config.seed + 1) + step)
    evals.append(
      {
        "step": step,
        "return_mean": float(run.returns.mean()),
        "return_std": float(run.returns.std()),
        "episodes": len(eval_envs),
        "length_mean": float(run.lengths.mean()),
      }
    )

  if start == 0:
    evaluate_now(0)
  obs = np.stack(
    [rollout.flat_obs(env, env.reset(seed=seeds.data_seed(config.seed, start + i))[0]) for i, env in enumerate(envs)]
  )
  action = np.asarray(jax.random.uniform(jax.random.fold_in(base_key, start), (E, action_dim), minval=-1.0, maxval=1.0))
  bar = tqdm(
    total=config.total_steps, initial=start, unit="step", disable=not progress, mininterval=2.0, desc=f"SAC {config.env_id}"
  )
  metrics = {}
  for step in range(start + E, config.total_steps + 1, E):
    next_obs = np.empty_like(obs)
    new_obs = np.empty_like(obs)
    rewards, terminated, truncated = np.zeros(E), np.zeros(E, bool), np.zeros(E, bool)
    env_action = to_env_units(action, low, high)
    for i, env in enumerate(envs):
      o, rewards[i], terminated[i], truncated[i], _ = env.step(env_action[i])
      next_obs[i] = new_obs[i] = rollout.flat_obs(env, o)
      if terminated[i] or truncated[i]:
        new_obs[i] = rollout.flat_obs(env, env.reset()[0])
    transition = (obs, action, rewards, next_obs, terminated, truncated)
    tree, action, metrics = collect(
      tree, transition, new_obs.astype(np.float32), jax.random.fold_in(base_key, step), learn=step > config.start_steps
    )
    action, obs = np.asarray(action), new_obs
    if step % config.eval_every == 0:
      evaluate_now(step)
      bar.set_postfix(eval_return=f"{evals[-1]['return_mean']:.0f}", refresh=False)
    if step % config.checkpoint_every == 0 or step == config.total_steps:
      checkpoint.save_state(mngr, step, tree, {"step": step, "evals": evals, "config": _jsonable(config)})
    bar.update(E)
  bar.close()
  checkpoint.close(mngr)
  return Result(agent, tree["agent"], tree["replay"], tree["snapshots"], evals, low, high, E)


def _jsonable(config: RunConfig) -> dict:
  return json.loads(json.dumps(dataclasses.asdict(config)))
