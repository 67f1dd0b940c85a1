"""TD3 (or TD3+BC) trained offline on a Minari dataset: its learning curve, resumable.

Every transition of the dataset goes into one on-device replay; ``eval_every`` updates are fused in one jitted
scan, then the deterministic policy is scored (D4RL-normalised, with the dataset's references) on fresh
episodes through the shared rollout loop, and the agent and the curve so far are checkpointed: a killed run
resumes from its last evaluation. Raw observations are standardised with the dataset's statistics (TD3+BC's
recipe); an MTM representation (``representation``: the workdir of a trained MTM) standardises its own.
"""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

import mtm_jax.envs  # noqa: F401  (quiets MuJoCo's notice about gymnasium's locomotion models)
from mtm_jax import checkpoint, seeds
from mtm_jax.agents import replay as replay_lib
from mtm_jax.agents.representation import MTMRepresentation
from mtm_jax.agents.sac_train import to_env_units
from mtm_jax.agents.td3 import TD3, TD3Config
from mtm_jax.envs import rollout, score
from mtm_jax.errors import UserError


@dataclasses.dataclass(frozen=True)
class OfflineConfig:
  dataset_id: str
  td3: TD3Config = TD3Config()
  updates: int = 100_000  # gradient steps
  eval_every: int = 5_000  # gradient steps between evaluations (and checkpoints)
  eval_episodes: int = 10
  seed: int = 0
  representation: str = ""  # workdir of a trained MTM: needed by every td3.inputs but raw

  def check(self) -> None:
    if self.updates < 1 or self.eval_every < 1 or self.updates % self.eval_every:
      raise UserError(f"updates ({self.updates}) must be a positive multiple of eval_every ({self.eval_every})")
    if self.eval_episodes < 1:
      raise UserError(f"eval_episodes must be >= 1, got {self.eval_episodes}")
    if self.td3.inputs == "raw" and self.representation:
      raise UserError("td3.inputs='raw' takes no representation; choose other inputs to use one")
    if self.td3.inputs != "raw" and not self.representation:
      raise UserError(f"td3.inputs={self.td3.inputs!r} needs representation= the workdir of a trained MTM")


def load(dataset_id: str):
  """(dataset, episodes in the agent's [-1, 1] action units, action low, high, (ref_min, ref_max))."""
  import minari

  dataset = minari.load_dataset(dataset_id)
  space = dataset.action_space
  low, high = np.asarray(space.low, np.float64), np.asarray(space.high, np.float64)
  if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
    raise UserError(f"{dataset_id}: TD3 needs a bounded action space, got {space}")
  episodes = [
    {
      "observations": np.asarray(e.observations, np.float32),
      "actions": (2.0 * (np.asarray(e.actions) - low) / (high - low) - 1.0).astype(np.float32),
      "rewards": e.rewards,
      "terminations": e.terminations,
    }
    for e in dataset.iterate_episodes()
  ]
  return dataset, episodes, low, high, score.references(dataset.storage.metadata, dataset_id)


def train(config: OfflineConfig, workdir: str, progress: bool = False) -> list[dict]:
  """The learning curve [{"step", "score": [mean, s.e.], "return": [mean, s.e.]}], step 0 included."""
  config.check()
  dataset, episodes, low, high, refs = load(config.dataset_id)
  obs = np.concatenate([e["observations"] for e in episodes])
  rep = None
  if config.representation:
    rep = MTMRepresentation(checkpoint.load_checkpoint(config.representation), low, high)
    mean, std = np.zeros(obs.shape[1], np.float32), np.ones(obs.shape[1], np.float32)
  else:
    mean, std = obs.mean(0), obs.std(0) + 1e-3
  standard = [{**e, "observations": (e["observations"] - mean) / std} for e in episodes]
  replay = replay_lib.from_episodes(standard)
  agent = TD3(config.td3, obs.shape[1], len(low), rep)
  key = jax.random.key(config.seed)
  init_key, key = jax.random.split(key)
  state = jax.jit(agent.init)(init_key)  # one compilation, not one per eager op
  learn = jax.jit(agent.learn, static_argnums=3, donate_argnums=0)
  act = jax.jit(agent.act)
  envs = [dataset.recover_environment() for _ in range(config.eval_episodes)]

  def evaluate(state, step):
    def policy(history, t):
      o = (np.asarray(history.observations[:, t], np.float32) - mean) / std
      return to_env_units(act(state, jnp.asarray(o)), low, high)

    returns = rollout.run(envs, policy, seeds=seeds.reset_seeds("reported", len(envs), start=step)).returns
    return {"step": step, "score": score.mean_se(score.d4rl_score(returns, *refs)), "return": score.mean_se(returns)}

  meta = {"config": json.loads(json.dumps(dataclasses.asdict(config)))}
  mngr = checkpoint.manager(workdir, max_to_keep=2, items=checkpoint.STATE_ITEMS)
  start, curve = mngr.latest_step(), []
  if start is not None:
    abstract = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), state)
    state, stored = checkpoint.restore_state(mngr, start, abstract)
    if stored["config"] != meta["config"]:
      raise UserError(f"workdir {workdir!r} holds an offline TD3 run with other settings; use a fresh workdir")
    curve = stored["curve"]
  else:
    start = 0
    curve.append(evaluate(state, 0))
  bar = tqdm(total=config.updates, initial=start, unit="update", disable=not progress, desc=f"TD3 {config.td3.inputs}")
  try:
    for step in range(start + config.eval_every, config.updates + 1, config.eval_every):
      state, _ = learn(state, replay, jax.random.fold_in(key, step), config.eval_every)
      curve.append(evaluate(state, step))
      checkpoint.save_state(mngr, step, state, {**meta, "curve": curve})
      bar.update(config.eval_every)
  finally:
    bar.close()
    checkpoint.close(mngr)
  return curve
