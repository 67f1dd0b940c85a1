"""Dataset spec: which modalities a trajectory has, their kind and size."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

CONTINUOUS = "continuous"
DISCRETE = "discrete"

# Roles the task masks know about; any other modality (rewards, properties) is an extra.
STATES, ACTIONS, RETURNS = "states", "actions", "returns"


@dataclasses.dataclass(frozen=True)
class ModalitySpec:
  """One modality: continuous [.., dim] floats or discrete [..] class indices."""

  name: str
  kind: str
  dim: int = 1
  num_classes: int = 0

  def __post_init__(self):
    if self.kind not in (CONTINUOUS, DISCRETE):
      raise ValueError(f"modality {self.name!r}: kind must be {CONTINUOUS!r} or {DISCRETE!r}, got {self.kind!r}")
    if self.kind == DISCRETE and self.num_classes < 2:
      raise ValueError(f"modality {self.name!r}: a discrete modality needs num_classes >= 2")
    if self.kind == CONTINUOUS and self.dim < 1:
      raise ValueError(f"modality {self.name!r}: a continuous modality needs dim >= 1")

  @property
  def is_discrete(self) -> bool:
    return self.kind == DISCRETE

  @property
  def output_size(self) -> int:
    """Width of the model's head: logits for discrete, values for continuous."""
    return self.num_classes if self.is_discrete else self.dim

  def trailing_shape(self) -> tuple[int, ...]:
    return () if self.is_discrete else (self.dim,)


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """The ordered modalities of a dataset (the order fixes token order in the model)."""

  modalities: tuple[ModalitySpec, ...]

  def __post_init__(self):
    names = [m.name for m in self.modalities]
    if len(set(names)) != len(names):
      raise ValueError(f"duplicate modality names in spec: {names}")
    if not names:
      raise ValueError("a dataset spec needs at least one modality")

  @property
  def names(self) -> tuple[str, ...]:
    return tuple(m.name for m in self.modalities)

  def __getitem__(self, name: str) -> ModalitySpec:
    for m in self.modalities:
      if m.name == name:
        return m
    raise KeyError(f"unknown modality {name!r}; this dataset has {list(self.names)}")

  def __contains__(self, name: str) -> bool:
    return name in self.names

  def __iter__(self) -> Iterator[ModalitySpec]:
    return iter(self.modalities)

  def to_dict(self) -> dict[str, Any]:
    return {"modalities": [dataclasses.asdict(m) for m in self.modalities]}

  @classmethod
  def from_dict(cls, d: dict[str, Any]) -> DatasetSpec:
    return cls(tuple(ModalitySpec(**m) for m in d["modalities"]))
