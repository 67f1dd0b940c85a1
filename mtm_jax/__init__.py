"""mtm_jax: masked trajectory models in JAX/Flax; one model, every inference task by choice of mask."""

from mtm_jax.checkpoint import Checkpoint, load_checkpoint
from mtm_jax.errors import UserError
from mtm_jax.model import MaskedTrajectoryModel, MLPBaseline, ModelConfig
from mtm_jax.predict import make_predict
from mtm_jax.spec import DatasetSpec, ModalitySpec

__all__ = [
  "Checkpoint",
  "DatasetSpec",
  "MLPBaseline",
  "MaskedTrajectoryModel",
  "ModalitySpec",
  "ModelConfig",
  "UserError",
  "load_checkpoint",
  "make_predict",
]
