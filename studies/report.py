"""What every study's report is made of: markdown tables, mean ± s.e. cells and checked claims."""

import numpy as np


def markdown_table(header, rows) -> str:
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
  return "\n".join(lines)


def se_cell(cell, fmt: str = "{:.1f}") -> str:
  """A (mean, s.e.) table cell: mean ± s.e.; the mean alone where there is no s.e. (one seed's difference);
  n/a for None (not measured at this scale)."""
  if cell is None:
    return "n/a"
  return fmt.format(cell[0]) if np.isnan(cell[1]) else f"{fmt.format(cell[0])} ± {fmt.format(cell[1])}"


def claim_lines(claims) -> str:
  """A report's checked claims, one bullet each: (claim, holds, evidence) tuples."""
  return "\n".join(f"- {'holds' if ok else 'does not hold'}: {claim} ({why})" for claim, ok, why in claims)
