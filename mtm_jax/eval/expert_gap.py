"""How far a model's actions stray from the data's expert: on the states its own rollouts visit, and on held-out
expert episodes read with the expert's own history (teacher forced).

A held-out action loss scores a model on the data's states only. In closed loop its own actions choose the next
states, so an error it makes moves it off the data, where it may err more: compounding error. Two models with
the same held-out loss can differ there, and one of them fall. The expert here is the policy the expert data
was sampled from, taken at its mode (``d4rl_protocol.expert_actions``): the action the data's samples scatter
around. ``data`` is that scatter, what copying the samples themselves would score; a model fitted by squared
error learns about their mean, near the mode, and can lie well below it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mtm_jax.checkpoint import Checkpoint
from mtm_jax.envs import rollout
from mtm_jax.errors import UserError
from mtm_jax.eval import model_rollouts
from mtm_jax.spec import ACTIONS, STATES

EARLY_STEPS = 100  # an episode's first steps, before a drift off the data has had time to build


def expert_gap(
  ckpt: Checkpoint,
  task: str,
  expert: Callable,
  episodes: int,
  *,
  target_rule: str | None = None,
  num_envs: int = 50,
  seed: int = model_rollouts.EVAL_SEED,
) -> dict:
  """Mean squared action error (per action dimension, environment units) of ``task``'s policy against
  ``expert(observations) -> actions``:
    own          on every step of ``episodes`` rollouts of the model, from the reported episodes' seeds
    own_early    on their first EARLY_STEPS steps
    held_out     on the held-out episodes of its data, each step asked with the data's history up to it
    data         the data's own (sampled) actions on those held-out steps
    growth       own / held_out: how much more it errs where its own actions have led it
  """
  if task != "bc" and ckpt.config.data.returns != "average":
    raise UserError(
      f"the expert gap of {task} needs a model of average returns (data.returns=average): a return-to-go "
      "target falls with the rewards received, which the held-out episodes as training reads them do not keep"
    )
  dataset = model_rollouts.recorded(ckpt.config)
  envs = [dataset.recover_environment() for _ in range(min(num_envs, episodes))]
  model = model_rollouts.model_policy(ckpt, task, envs[0], target_rule=target_rule)
  states, actions, early = [], [], []  # every step of the model's own episodes; whether among the first
  for run in model_rollouts.run_episodes(envs, model.policy, episodes, seed):
    for i, n in enumerate(run.lengths):
      states.append(run.observations[i, :n])
      actions.append(run.actions[i, :n])
      early.append(np.arange(n) < EARLY_STEPS)
  own = _squared(np.concatenate(actions), expert(np.concatenate(states)))  # one call: one compiled shape
  forced, data = teacher_forced(model.policy, model.held_out, envs[0].action_space, expert)
  out = {
    "own": float(own.mean()),
    "own_early": float(own[np.concatenate(early)].mean()),
    "held_out": float(forced.mean()),
    "data": float(data.mean()),
  }
  return {**out, "growth": out["own"] / out["held_out"]}


def teacher_forced(policy: Callable, episodes: list, action_space, expert: Callable) -> tuple[np.ndarray, np.ndarray]:
  """(the policy's squared error against ``expert`` at every step of ``episodes``, the data's own), each step
  asked as ``rollout.run`` asks it, with the episode's states and actions up to it in place of the policy's own.
  Its rewards stay 0: a policy of average returns never reads them (``expert_gap`` refuses return-to-go)."""
  E, longest = len(episodes), max(len(e[ACTIONS]) for e in episodes)
  lengths = np.array([len(e[ACTIONS]) for e in episodes])
  history = rollout.Episodes(
    observations=np.zeros((E, longest + 1, episodes[0][STATES].shape[1])),
    actions=np.zeros((E, longest, episodes[0][ACTIONS].shape[1]), np.float32),
    rewards=np.zeros((E, longest)),
    lengths=np.zeros(E, int),
    terminated=np.zeros(E, bool),
    infos=[{} for _ in range(E)],
  )
  asked, states, actions = [], [], []
  for t in range(longest):
    live = np.flatnonzero(t < lengths)
    for i in live:  # as run fills it: step t's state repeated ahead, the actions and rewards before t
      e = episodes[i]
      history.observations[i, t:] = e[STATES][t]
      if t:
        history.actions[i, t - 1] = e[ACTIONS][t - 1]
      history.lengths[i] = t
    asked.append(np.clip(np.asarray(policy(history, t), np.float32), action_space.low, action_space.high)[live])
    states += [episodes[i][STATES][t] for i in live]
    actions += [episodes[i][ACTIONS][t] for i in live]
  labels = expert(np.stack(states))  # one call: one compiled shape
  return _squared(np.concatenate(asked), labels), _squared(np.stack(actions), labels)


def _squared(actions, labels) -> np.ndarray:
  """Per step, the squared error averaged over the action's dimensions."""
  return np.mean((np.asarray(actions, np.float64) - np.asarray(labels, np.float64)) ** 2, axis=-1)
