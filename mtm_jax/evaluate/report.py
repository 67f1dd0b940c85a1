"""What every study's report is made of: its cached results and markdown tables."""

import json
import os


def read_results(path: str) -> dict:
  """The results a previous invocation cached at ``path`` (a JSON object), or {} on a first run."""
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f)


def markdown_table(header, rows) -> str:
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
  return "\n".join(lines)
