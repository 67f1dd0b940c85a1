"""The Uni[MASK] Maze2D task on gymnasium-robotics' MuJoCo PointMaze_Medium: no velocity in the
observation, fixed 200-step episodes, a waypoint-following PD expert."""

import gymnasium

ENV_ID = "mtm_jax/PointMazeNoVel-v0"

if ENV_ID not in gymnasium.registry:
  gymnasium.register(ENV_ID, entry_point="mtm_jax.envs.pointmaze.env:PointMazeNoVelocity")
