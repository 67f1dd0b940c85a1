"""What every study's report is made of: markdown tables, cells over training seeds and checked claims."""

from typing import NamedTuple

import numpy as np
from scipy import stats as scipy_stats

MIN_SEEDS = 3  # fewer models than this decide nothing: their cell has no interval
CONFIDENCE = 0.95


class SeedCell(NamedTuple):
  """A table cell over training seeds, never over the episodes of one model: the mean of the per-seed values, a
  95 % percentile-bootstrap interval of that mean (nan below MIN_SEEDS seeds), each seed's value, and for a
  rollout score the share of its episodes that reached the time limit (None where unknown)."""

  mean: float
  low: float
  high: float
  values: tuple[float, ...]
  reached: float | None = None

  def above(self, threshold: float) -> bool | None:
    """True where the interval lies above ``threshold``, False where below, None where it straddles it or
    there is no interval: the claim is not decided."""
    if np.isnan(self.low):
      return None
    return True if self.low > threshold else False if self.high < threshold else None


def over_seeds(values, reached=None) -> SeedCell | None:
  """The SeedCell of per-seed ``values`` (None for none); ``reached``: the per-seed time-limit shares, if any."""
  if len(values) == 0:
    return None
  v = np.asarray(values, np.float64)
  low = high = float("nan")
  if len(v) >= MIN_SEEDS:
    low = high = float(v[0])
    if np.ptp(v) > 0:  # scipy's bootstrap warns on a degenerate sample, whose interval is the value itself
      ci = scipy_stats.bootstrap(
        (v,), np.mean, confidence_level=CONFIDENCE, n_resamples=10_000, method="percentile", rng=np.random.default_rng(0)
      ).confidence_interval
      low, high = float(ci.low), float(ci.high)
  shares = [r for r in (reached or ()) if r is not None]
  return SeedCell(float(v.mean()), low, high, tuple(float(x) for x in v), float(np.mean(shares)) if shares else None)


def paired(a: SeedCell, b: SeedCell) -> SeedCell:
  """a - b seed by seed (the arms share their seeds: seed s of each trains on the same draw)."""
  if len(a.values) != len(b.values):
    raise ValueError(f"paired cells need the same seeds; got {len(a.values)} and {len(b.values)}")
  return over_seeds(np.subtract(a.values, b.values))


def cell_text(cell: SeedCell | None, fmt: str = "{:.1f}") -> str:
  """A cell as text: mean [95 % interval], each seed's value, the time-limit share; n/a for None (not measured at
  this scale)."""
  if cell is None:
    return "n/a"
  n = len(cell.values)
  if np.isnan(cell.low):
    spread = f" ({n} seed{'s' * (n > 1)}: no interval)"
  else:
    spread = f" [{fmt.format(cell.low)}, {fmt.format(cell.high)}]"
  seeds = " / ".join(fmt.format(v) for v in cell.values) if n > 1 else ""
  reached = "" if cell.reached is None else f"; {cell.reached:.0%} to the time limit"
  return f"{fmt.format(cell.mean)}{spread}" + (f"; seeds {seeds}" if seeds else "") + reached


def markdown_table(header, rows) -> str:
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
  return "\n".join(lines)


VERDICTS = {True: "holds", False: "does not hold", None: "undecided"}


def every(verdicts) -> bool | None:
  """One verdict of several that must all hold: False if any does not, else None if any is undecided, else True."""
  verdicts = list(verdicts)
  return False if False in verdicts else None if None in verdicts else True


def claim_lines(claims) -> str:
  """A report's checked claims, one bullet each: (claim, verdict, evidence) tuples, the verdict True, False or
  None (undecided: the interval over seeds straddles the line, or too few seeds to have one)."""
  return "\n".join(f"- {VERDICTS[ok]}: {claim} ({why})" for claim, ok, why in claims)
