"""Environments of the studies: the key-door gridworld, the point maze, D4RL-style locomotion."""

import warnings

import mujoco


def _mujoco_warning(message: str) -> None:
  # gymnasium's Hopper and Walker2d models use a compiler attribute MuJoCo 3.3+ deprecates; MuJoCo prints that
  # to stderr and MUJOCO_LOG.TXT on every environment built. It is gymnasium's to fix; other warnings pass on.
  if "settotalmass" not in message:
    warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)


mujoco.set_mju_user_warning(_mujoco_warning)
