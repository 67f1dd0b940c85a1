"""The reference PyTorch MTM's train step op by op, under torch.profiler, in the categories of
train_throughput.py --profile (op_categories.py), so the two tables line up.

Runs in the reference's venv (torch and the reference's code from $ANCHOR, default /tmp/anchor, built by
../shared/anchor/build.sh), at the configuration of ../shared/anchor/bench_torch_mtm.py (WIDTH and B change
its width and batch):
  [THREADS=n] [WIDTH=512] [B=256] PYTHONPATH=/tmp/anchor/stubs:/tmp/anchor:. \\
    /tmp/anchor/venv/bin/python -m benchmarks.profile_reference_torch [steps=10] [--time]
--time: no profiler, only the last line (``reference samples_per_s=N``, for compare_reference.sh).
The reference draws one mask per batch, so its encoder's work per step varies with the draw: over the 10 steps
that ../shared/anchor/bench_torch_mtm.py times (seed 0) its masks show 3.20 visible tokens on average, not the
distribution's 4.13, and it runs faster than it trains on average. Time enough steps (50 or more) to compare;
the table is per step over ``steps`` steps and reports the mean visible tokens of the masks it drew.
"""

import collections
import os
import sys
import time

import numpy as np
import torch

# The reference's code comes from PYTHONPATH=$ANCHOR/stubs:$ANCHOR (its callers set it; see the docstring).
from research.mtm.masks import create_random_autoregressize_mask
from research.mtm.models.mtm_model import MTM, MTMConfig

from benchmarks.op_categories import categorize, table

B, T = int(os.environ.get("B", 256)), 4
SHAPES = {"states": (1, 17), "returns": (1, 1), "actions": (1, 6)}
RATIOS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)
MATMULS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear")
PHASE_OF = {"forward": "forward", "backward": "backward", "optimizer": "update", "update": "update"}


def main(steps: int, profile: bool) -> None:
  torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count())))
  cfg = MTMConfig(n_embd=int(os.environ.get("WIDTH", 512)), n_head=4, n_enc_layer=2, n_dec_layer=1, dropout=0.1, norm="none")
  model = MTM(SHAPES, T, cfg)
  opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.005)
  visible = []

  def step():
    batch = {k: torch.randn(B, T, 1, v[1]) for k, v in SHAPES.items()}
    with torch.profiler.record_function("phase:update"):  # mask sampling
      masks = create_random_autoregressize_mask(SHAPES, RATIOS, T, "cpu")
    visible.append(sum(float(m.sum()) for m in masks.values()))
    with torch.profiler.record_function("phase:forward"):
      pred = model(batch, masks)
      loss, *_ = MTM.forward_loss(batch, pred, masks, dict.fromkeys(SHAPES, False), norm="none")
    with torch.profiler.record_function("phase:backward"):
      opt.zero_grad(set_to_none=True)
      loss.backward()
    with torch.profiler.record_function("phase:optimizer"):
      opt.step()

  np.random.seed(0)
  torch.manual_seed(0)
  for _ in range(3):
    step()
  visible.clear()
  if not profile:
    start = time.perf_counter()
    for _ in range(steps):
      step()
    rate = B * steps / (time.perf_counter() - start)
    print(f"mean visible tokens {np.mean(visible):.2f} of {3 * T}; reference samples_per_s={rate:.1f}")
    return
  with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], with_flops=True) as prof:
    start = time.perf_counter()
    for _ in range(steps):
      step()
    wall = time.perf_counter() - start
  ms, gflop = collections.defaultdict(float), collections.defaultdict(float)
  for e in prof.events():
    if e.name.startswith("phase:") or not e.name.startswith("aten::"):
      continue
    parent, phase = e.cpu_parent, "backward"  # autograd's engine thread runs backward ops outside our scopes
    while parent is not None:
      if parent.name.startswith("phase:"):
        phase = PHASE_OF[parent.name.split(":")[1]]
        break
      parent = parent.cpu_parent
    key = (phase, categorize(e.name, e.name in MATMULS))
    ms[key] += e.self_cpu_time_total / 1e3
    gflop[key] += (e.flops or 0) / 1e9
  title = (
    f"PyTorch {torch.__version__} (reference MTM), {steps} steps, {torch.get_num_threads()} threads, "
    f"mean visible tokens {np.mean(visible):.2f} of {3 * T} (the mask distribution's mean is 4.13)"
  )
  print(table(ms, steps, wall / steps * 1e3, gflop, title=title))
  print(f"reference_profile samples_per_s={B * steps / wall:.1f}")


if __name__ == "__main__":
  args = [a for a in sys.argv[1:] if a != "--time"]
  main(int(args[0]) if args else 10, profile="--time" not in sys.argv)
