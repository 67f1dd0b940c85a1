"""TD3 and TD3+BC learning offline from a fixed replay, on a problem whose answer is known."""

import jax
import numpy as np
import pytest

from mtm_jax.agents import replay as replay_lib
from mtm_jax.agents.td3 import TD3, TD3Config


def bandit_episodes(n=2000, seed=0):
  """One-step episodes: any state, a uniform action in [-1, 1], reward 1 - (a - 0.5)^2; the best action is 0.5."""
  rng = np.random.default_rng(seed)
  episodes = []
  for _ in range(n):
    a = rng.uniform(-1, 1, (1, 1))
    episodes.append(
      {"observations": rng.uniform(-1, 1, (2, 2)), "actions": a, "rewards": 1 - (a[:, 0] - 0.5) ** 2, "terminations": [True]}
    )
  return episodes


def test_offline_replay_holds_every_transition_in_order():
  episodes = [
    {
      "observations": np.arange(8.0).reshape(4, 2),
      "actions": np.zeros((3, 1)),
      "rewards": [1, 2, 3],
      "terminations": [False, False, False],
    },
    {"observations": np.ones((3, 2)), "actions": np.ones((2, 1)), "rewards": [4, 5], "terminations": [False, True]},
  ]
  r = replay_lib.from_episodes(episodes)
  assert int(r.size) == r.capacity == 5
  np.testing.assert_array_equal(r.rewards, [1, 2, 3, 4, 5])
  np.testing.assert_array_equal(r.next_obs[2], [6, 7])  # an episode's last step reads its final observation
  np.testing.assert_array_equal(r.terminated, [False, False, False, False, True])
  np.testing.assert_array_equal(r.truncated, [False, False, True, False, False])  # ended without termination


@pytest.mark.parametrize("bc_alpha", [0.0, 2.5])
def test_td3_finds_the_best_action_and_td3_bc_stays_nearer_the_data(bc_alpha):
  agent = TD3(TD3Config(hidden=(64, 64), batch_size=128, bc_alpha=bc_alpha), obs_dim=2, action_dim=1)
  replay = replay_lib.from_episodes(bandit_episodes())
  learn = jax.jit(agent.learn, static_argnums=3)
  state = jax.jit(agent.init)(jax.random.key(0))
  for i in range(6):
    state, metrics = learn(state, replay, jax.random.key(i + 1), 500)
  action = float(np.mean(agent.act(state, np.random.default_rng(1).uniform(-1, 1, (64, 2)))))
  assert np.isfinite(float(metrics["critic_loss"])) and int(state.step) == 3000
  if bc_alpha == 0:
    assert abs(action - 0.5) < 0.08, action
  else:  # Q is about 1 there, so the actor maximises 2.5 (1 - (a - 0.5)^2) - E(a - a_data)^2: a = 2.5 / 7
    assert abs(action - 2.5 / 7) < 0.08, action


def test_bad_settings_are_refused():
  with pytest.raises(ValueError, match="policy_delay"):
    TD3(TD3Config(policy_delay=0), 2, 1)


def mtm_checkpoint(obs_dim=2, action_dim=1, width=16):
  """An initialised (untrained) locomotion-recipe MTM at smoke size, as a checkpoint."""

  from configs import locomotion
  from mtm_jax.checkpoint import Checkpoint
  from mtm_jax.experiment import parse
  from mtm_jax.model import build_model, dummy_inputs
  from mtm_jax.spec import CONTINUOUS, DatasetSpec, ModalitySpec

  config = locomotion.get_config("smoke")
  config.model.width = width
  spec = DatasetSpec(
    (
      ModalitySpec("states", CONTINUOUS, obs_dim),
      ModalitySpec("actions", CONTINUOUS, action_dim),
      ModalitySpec("returns", CONTINUOUS, 1),
    )
  )
  exp = parse({**config.to_dict(), "spec": spec.to_dict()}, training=False)
  model = build_model(exp.model, spec, exp.window)
  params = jax.jit(model.init)(jax.random.key(0), *dummy_inputs(spec, exp.window))
  norm = {m.name: {"mean": np.full(m.dim, 0.1, np.float32), "std": np.full(m.dim, 2.0, np.float32)} for m in spec}
  return Checkpoint({"model": params, "norm": norm}, exp, spec, 0), model


def test_the_one_step_representation_is_the_trained_windows_encoder_output_at_a_lone_state():
  from mtm_jax.agents.representation import MTMRepresentation
  from mtm_jax.predict import apply_normalized

  ckpt, model = mtm_checkpoint()
  rep = MTMRepresentation(ckpt, -np.ones(1), np.ones(1))
  obs = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
  T = ckpt.config.window
  traj = {
    "states": np.zeros((5, T, 2), np.float32),
    "actions": np.zeros((5, T, 1), np.float32),
    "returns": np.zeros((5, T, 1), np.float32),
  }
  traj["states"][:, 0] = obs
  visible = {m: np.zeros((5, T), bool) for m in traj}
  visible["states"][:, 0] = True
  full = apply_normalized(model, rep.params, traj, visible, features="encoder")["states"][:, 0]
  np.testing.assert_allclose(rep.state(rep.params, obs), full, atol=1e-5)
  action = np.full((5, 1), 0.5, np.float32)
  pair = rep.state_action(rep.params, obs, action)
  assert pair.shape == (5, 32) and not np.allclose(pair[:, :16], full, atol=1e-3)  # the state now sees the action


@pytest.mark.parametrize("inputs", ["state", "state_finetune", "state_action"])
def test_td3_learns_on_mtm_representations_and_only_fine_tuning_moves_the_encoder(inputs):
  from mtm_jax.agents.representation import MTMRepresentation

  rep = MTMRepresentation(mtm_checkpoint()[0], -np.ones(1), np.ones(1))
  agent = TD3(TD3Config(hidden=(32, 32), batch_size=32, inputs=inputs), obs_dim=2, action_dim=1, representation=rep)
  state = jax.jit(agent.init)(jax.random.key(0))
  state, metrics = jax.jit(agent.learn, static_argnums=3)(
    state, replay_lib.from_episodes(bandit_episodes(200)), jax.random.key(1), 20
  )
  assert np.isfinite(float(metrics["critic_loss"])) and np.isfinite(float(metrics["actor_loss"]))
  moved = lambda part: [
    not np.allclose(a, b)
    for a, b in zip(  # noqa: E731
      jax.tree_util.tree_leaves(state.critic["encoder"][part]), jax.tree_util.tree_leaves(rep.params[part])
    )
  ]
  assert any(moved("model")) == (inputs == "state_finetune") and not any(moved("norm"))
  assert agent.act(state, np.zeros((3, 2), np.float32)).shape == (3, 1)


def test_a_representation_must_come_with_its_inputs():
  with pytest.raises(ValueError, match="inputs='state' needs a representation"):
    TD3(TD3Config(inputs="state"), 2, 1)
  with pytest.raises(ValueError, match="choose from"):
    TD3(TD3Config(inputs="pixels"), 2, 1)
