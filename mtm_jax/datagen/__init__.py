"""Dataset generation: the gridworld and Maze2D generators, and the D4RL locomotion protocol (SAC, then levels)."""
