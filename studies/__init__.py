"""The five studies (gridworld, Maze2D, MTM, heteromodal, representation) on one harness. Beside the library:
mtm_jax never imports them."""
