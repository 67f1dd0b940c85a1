"""Evaluators: held-out task losses, the loss matrix, capabilities, model rollouts, the gridworld scan, plots."""
