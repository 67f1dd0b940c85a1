"""The Uni[MASK] Maze2D task on gymnasium-robotics' MuJoCo PointMaze_Medium: no velocity in the
observation, fixed 200-step episodes, a waypoint-following PD expert."""

import contextlib
import io

import gymnasium

# gymnasium-robotics prints a notice about its Adroit environments' rewards on import (farama-notifications);
# it does not concern the point maze and would otherwise head every command's output.
with contextlib.redirect_stderr(io.StringIO()):
  import gymnasium_robotics  # noqa: F401

ENV_ID = "mtm_jax/PointMazeNoVel-v0"

if ENV_ID not in gymnasium.registry:
  gymnasium.register(ENV_ID, entry_point="mtm_jax.envs.pointmaze.env:PointMazeNoVelocity")
