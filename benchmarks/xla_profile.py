"""Where one jitted train step spends its time, op by op, from XLA's own trace (train_throughput.py --profile).

The step runs under ``jax.profiler.trace``; its Perfetto trace holds one event per executed HLO instruction
(thunk). The compiled HLO text names each instruction's source (``op_name`` metadata: the Flax module path,
``jvp`` for the forward pass, ``transpose(jvp)`` for the backward one) and, for matmuls, the shapes that give
its FLOPs. Each event is put in a (phase, category) of op_categories.py.

Op times are summed per event, so they add up to more than the wall time where the two cores run ops side by
side; shares are of that sum. A dot that XLA hands to its thread pool asynchronously records only its launch, so
matmul GFLOP/s are upper bounds for those rows; the profile says how many such dots it saw.
"""

from __future__ import annotations

import collections
import glob
import gzip
import json
import os
import re
import time

import jax

from benchmarks.op_categories import categorize, table

_INSTRUCTION = re.compile(r"^\s+(?:ROOT )?%(\S+) = (\w+)\[([\d,]*)\][^ ]* (.*)$")
_COMPUTATION = re.compile(r"^(?:ENTRY )?%(\S+) ")


def _parse_hlo(text: str):
  """instruction -> (shape, rest of line); computation -> its instructions."""
  inst, comps, current = {}, collections.defaultdict(list), None
  for line in text.splitlines():
    if not line.startswith(" "):
      m = _COMPUTATION.match(line)
      current = m.group(1) if m and "{" in line else current
      continue
    m = _INSTRUCTION.match(line)
    if m:
      inst[m.group(1)] = ([int(x) for x in m.group(3).split(",") if x], m.group(4))
      comps[current].append(m.group(1))
  return inst, comps


def _dot_flops(name: str, inst: dict) -> int:
  shape, rest = inst[name]
  operands = re.search(r"dot\(%(\S+?), %(\S+?)\)", rest)
  dims = re.search(r"lhs_contracting_dims=\{([\d,]*)\}", rest)
  lhs = inst[operands.group(1)][0]
  k = 1
  for d in dims.group(1).split(","):
    k *= lhs[int(d)]
  out = 1
  for s in shape:
    out *= s
  return 2 * out * k


def index_hlo(text: str) -> dict:
  """instruction -> (op_name, matmul FLOPs or 0) for every instruction of the compiled module."""
  inst, comps = _parse_hlo(text)
  out = {}
  for name, (_, rest) in inst.items():
    m = re.search(r'op_name="([^"]*)"', rest)
    op_name = m.group(1) if m else ""
    called = re.search(r"calls=%([^,\s]+)", rest)
    inner = comps.get(called.group(1), []) if called else []
    dots = [x for x in inner + [name] if inst[x][1].startswith("dot(")]
    out[name] = (op_name, sum(_dot_flops(d, inst) for d in dots))
  return out


def _phase(op_name: str) -> str:
  if "transpose(jvp(" in op_name:
    return "backward"
  if "jvp(" in op_name:
    return "forward"
  return "update"


def profile(step, state, batch, key, steps: int, logdir: str) -> tuple[str, object]:
  """Runs ``steps`` steps under the profiler; returns (the table, the state after them)."""
  hlo = index_hlo(step.lower(state, batch, key).compile().as_text())
  os.makedirs(logdir, exist_ok=True)
  with jax.profiler.trace(logdir, create_perfetto_trace=True):
    start = time.perf_counter()
    for i in range(steps):
      state, metrics = step(state, batch, jax.random.fold_in(key, i))
    jax.block_until_ready(metrics)
    wall = time.perf_counter() - start
  trace = max(glob.glob(os.path.join(logdir, "plugins", "profile", "*", "perfetto_trace.json.gz")), key=os.path.getmtime)
  with gzip.open(trace) as f:
    events = json.load(f)["traceEvents"]
  ms, gflop, fast_dots = collections.defaultdict(float), collections.defaultdict(float), set()
  for e in events:
    if e.get("ph") != "X" or e["name"] not in hlo:
      continue
    op_name, flops = hlo[e["name"]]
    key_ = (_phase(op_name), categorize(f"{op_name} {e['name']}", flops > 0))
    ms[key_] += e["dur"] / 1e3
    gflop[key_] += flops / 1e9
    if flops and flops / (e["dur"] * 1e3) > 1e3:  # over 1 TFLOP/s on a CPU: only the launch was timed
      fast_dots.add(e["name"])
  text = table(ms, steps, wall / steps * 1e3, gflop, title=f"XLA ({jax.devices()[0].device_kind}), {steps} steps")
  if fast_dots:
    text += f"\n{len(fast_dots)} dots ran asynchronously (launch timed only): {sorted(fast_dots)[:6]}"
  return text, state
