"""One set of names for where a train step's time goes, shared by the XLA profile (train_throughput.py
--profile) and the PyTorch one (profile_reference_torch.py), so their tables line up row by row.

Plain Python (no jax, no torch): both sides import it, each in its own virtual environment.
"""

from __future__ import annotations

import collections

# Checked in order; the first category whose words occur in an op's description names it. "matmul" is not
# here: the caller decides it (a dot inside the op), never its words.
CATEGORIES = (
  ("dropout", ("dropout", "bernoulli", "native_dropout")),
  ("layernorm", ("layernorm", "layer_norm")),
  ("non-finite guard", ("is_finite", "train_step)/jit(_where)")),  # the step's own where, not the model's
  ("attention (softmax, scores' masking)", ("softmax", "attention")),
  ("gelu", ("gelu", "tanh")),
  ("packing (gather, scatter)", ("packed/vmap", "gather", "scatter", "_take", "index")),
  ("mask sampling", ("sample_batch", "random_autoregressive", "randint", "_uniform", "randperm", "shuffle")),
  ("loss", ("mse_loss", "token_losses", "masked_loss", "square")),
  ("optimizer", ("adam", "lerp", "addcdiv", "addcmul", "foreach", "optimizer")),
  ("copies, layout", ("copy", "transpose", "reshape", "cat", "stack", "split", "slice", "squeeze", "bitcast")),
)
OTHER = "other elementwise"


def categorize(description: str, is_matmul: bool) -> str:
  if is_matmul:
    return "matmul"
  text = description.lower()
  for name, words in CATEGORIES:
    if any(w in text for w in words):
      return name
  return OTHER


def table(ms_by_key: dict, steps: int, step_ms: float, gflop_by_key: dict | None = None, title: str = "") -> str:
  """Markdown table of milliseconds per step by (phase, category), largest first, with matmul GFLOP/s."""
  total = sum(ms_by_key.values())
  lines = [title, "| phase | category | ms / step | share | GFLOP / step | GFLOP/s |", "|---|---|---|---|---|---|"]
  by_category = collections.defaultdict(float)
  for (phase, category), ms in sorted(ms_by_key.items(), key=lambda kv: -kv[1]):
    by_category[category] += ms
    gf = (gflop_by_key or {}).get((phase, category), 0.0) / steps
    rate = f"{gf / (ms / steps / 1e3):.0f}" if gf else ""
    lines.append(f"| {phase} | {category} | {ms / steps:.1f} | {ms / total:.1%} | {f'{gf:.1f}' if gf else ''} | {rate} |")
  lines.append(f"| all | all | {total / steps:.1f} | 100% | | |")
  lines.append(f"wall time per step {step_ms:.1f} ms (op times sum to {total / steps:.1f} ms: ops overlap on the cores)")
  ranked = sorted(by_category.items(), key=lambda kv: -kv[1])
  lines.append("by category: " + ", ".join(f"{c} {ms / steps:.0f} ms" for c, ms in ranked))
  return "\n".join(lines)
