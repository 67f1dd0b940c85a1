"""The Uni[MASK] loss matrix: normalisation by the column minimum and the paper's three findings."""

from __future__ import annotations

import numpy as np

# A column whose best loss is below this (nats / normalised MSE) is divided by this instead: a
# near-zero minimum (deterministic forward dynamics) would turn every other cell into noise.
COLUMN_FLOOR = 0.01


def relative_to_column_best(losses, floor: float = COLUMN_FLOOR) -> np.ndarray:
  """losses [models, tasks] divided by each column's minimum (at least ``floor``); NaN stays NaN."""
  losses = np.asarray(losses, np.float64)
  return losses / np.maximum(np.nanmin(losses, axis=0), floor)[None]


def findings(
  normalized, rows, columns, *, random_row="random", multi_row="multi_task", finetune_row="finetune", tolerance=0.05
) -> list[tuple[str, bool, str]]:
  """The paper's claims checked on a column-normalised matrix: (claim, holds, evidence) each.

  1. finetune within ``tolerance`` of the best on every column;
  2. random beats multi_task on most columns;
  3. each single-task model (row named like its column) is best on its own column, and poor elsewhere
     (its mean normalised loss off the diagonal above that of the random model).
  """
  n = np.asarray(normalized, np.float64)
  r = {name: i for i, name in enumerate(rows)}
  out = []
  # Relative to each column's best row (below 1 where the floor replaced a near-zero minimum).
  ft = n[r[finetune_row]] / np.nanmin(n, axis=0)
  worst = int(np.nanargmax(ft))
  out.append(
    (
      f"random-mask + finetune within {tolerance:.0%} of the best on every column",
      bool(np.nanmax(ft) <= 1 + tolerance),
      f"worst column {columns[worst]}: {ft[worst]:.3f}x the best",
    )
  )
  wins = [c for j, c in enumerate(columns) if n[r[random_row], j] < n[r[multi_row], j]]
  out.append(
    (
      "random-mask beats multi-task on most columns",
      len(wins) > len(columns) / 2,
      f"random lower on {len(wins)}/{len(columns)}: {', '.join(wins) or 'none'}",
    )
  )
  singles = [c for c in columns if c in r]
  own_best = [c for c in singles if n[r[c], columns.index(c)] <= min(n[r[s], columns.index(c)] for s in singles)]
  off = {c: np.nanmean([n[r[c], j] for j, other in enumerate(columns) if other != c]) for c in singles}
  random_mean = np.nanmean(n[r[random_row]])
  poor = [c for c in singles if off[c] > random_mean]
  out.append(
    (
      "single-task models best (among single-task models) on their own column and poor elsewhere",
      len(own_best) == len(singles) and len(poor) == len(singles),
      f"diagonal best among single-task models on {len(own_best)}/{len(singles)}; off-diagonal mean above the "
      f"random model's ({random_mean:.2f}) for {len(poor)}/{len(singles)}",
    )
  )
  return out
