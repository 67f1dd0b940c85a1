"""D4RL-style locomotion on gymnasium's MuJoCo v5 environments: names, levels and dataset ids."""

ENVS = {"hopper": "Hopper-v5", "halfcheetah": "HalfCheetah-v5", "walker2d": "Walker2d-v5"}
LEVELS = ("random", "medium", "medium-replay", "full-replay", "expert", "medium-expert")


def dataset_id(env: str, level: str, scale: str = "full") -> str:
  """Our datasets: ``mtm_jax/<env>/<level>-v0`` at D4RL's (full) scale, ``mtm_jax/<env>-<scale>/<level>-v0`` at
  a smaller one, so a trial never replaces the real data (Minari's published sets are ``mujoco/<env>/<level>-v0``)."""
  return f"mtm_jax/{env}/{level}-v0" if scale == "full" else f"mtm_jax/{env}-{scale}/{level}-v0"
