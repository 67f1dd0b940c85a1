"""The Uni[MASK] key-door gridworld: MiniGrid environment, JAX twin, noisy-rational agent, dataset."""

import gymnasium

from mtm_jax.envs.gridworld.layout import ACTION_NAMES, NUM_ACTIONS, NUM_STATES, decode_state, encode_state

ENV_ID = "mtm_jax/KeyDoor-v0"

if ENV_ID not in gymnasium.registry:
  gymnasium.register(ENV_ID, entry_point="mtm_jax.envs.gridworld.minigrid_env:KeyDoorEnv")

__all__ = ["ACTION_NAMES", "ENV_ID", "NUM_ACTIONS", "NUM_STATES", "decode_state", "encode_state"]
