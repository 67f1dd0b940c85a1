"""Online RL agents in JAX: SAC (makes the locomotion datasets) on shared networks and replay."""
