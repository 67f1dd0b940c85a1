"""Environments of the studies: the Uni[MASK] key-door gridworld (MiniGrid + a JAX twin)."""
