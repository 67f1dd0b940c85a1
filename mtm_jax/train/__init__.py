"""Training: the state (state.py), the pure train step (step.py) and the loop that runs it (loop.py)."""

from mtm_jax.train.loop import train_and_evaluate
from mtm_jax.train.state import TrainState, make_mesh
from mtm_jax.train.step import encoder_packing, make_train_step, step_key

__all__ = ["TrainState", "encoder_packing", "make_mesh", "make_train_step", "step_key", "train_and_evaluate"]
