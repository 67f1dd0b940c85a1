"""Multi-process (multi-host) runs: ``jax.distributed`` set up before anything touches a device, and a
clean stop of every process when one of them dies.

On a TPU slice or a GPU cluster each host runs the same command; every process then sees the global
mesh (``jax.devices()``), loads the same data, draws the same keys and saves checkpoints collectively
(Orbax), while only process 0 writes metrics, the progress bar and ``config.json``. On CPU, processes
talk through JAX's gloo collectives, so two processes on one machine form one mesh (the tests do this).

A watchdog thread in each process bumps a counter in the coordination service's key-value store every
second and watches its peers'. A peer whose counter stops for ``timeout`` seconds ends this process with
exit code ``EXIT_PEER_LOST`` and one line on stderr, instead of a hang in a collective that will never
complete. JAX's own heartbeat check, which aborts every survivor with a C++ stack trace, is set to
max(60 s, 10 x ``timeout``) so that the watchdog speaks first even when the machine is loaded (CI once saw
the abort win against 3 x ``timeout``; with a 2 s heartbeat and a 5 s watchdog the abort wins every time).
When process 0 itself dies, JAX's client in every other process notices the closed connection at once
and aborts with its own message ("... another task died") and a stack trace: JAX offers no working
Python hook for that path (its client's error callback fails to convert the error: std::bad_cast).
Either way, rerunning every process with the same command resumes from the last checkpoint.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import jax
import numpy as np
from jax._src import distributed as jax_distributed  # the coordination client, for the watchdog

from mtm_jax.errors import UserError

EXIT_PEER_LOST = 75  # EX_TEMPFAIL: rerun to resume
_KEY = "mtm_jax/alive/{}"


def initialize(num_processes: int, process_id: int, coordinator: str, *, timeout: float = 20.0) -> None:
  """``jax.distributed.initialize`` (CPU collectives over gloo) and the peer watchdog; call before any device
  use. ``timeout``: seconds without a peer's heartbeat before this process stops.

  num_processes=0 leaves the arguments to JAX's cluster auto-detection (Cloud TPU, SLURM, Open MPI, GKE);
  JAX_COORDINATOR_ADDRESS may stand in for ``coordinator``.
  """
  if num_processes < 0 or (num_processes and not 0 <= process_id < num_processes):
    raise UserError(f"--process_id={process_id} must be in [0, --num_processes={num_processes})")
  if num_processes > 1 and not (coordinator or os.environ.get("JAX_COORDINATOR_ADDRESS")):
    raise UserError("--num_processes > 1 needs --coordinator=HOST:PORT (process 0's address, the same for every process)")
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  kwargs = {}
  if num_processes:
    kwargs = {"coordinator_address": coordinator or None, "num_processes": num_processes, "process_id": process_id}
  try:
    jax.distributed.initialize(
      **kwargs, initialization_timeout=int(max(60, 3 * timeout)), heartbeat_timeout_seconds=int(max(60, 10 * timeout))
    )
  except Exception as err:  # jax raises RuntimeError / ValueError / XlaRuntimeError for a bad cluster setup
    raise UserError(
      f"could not join the distributed run ({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
      "check --coordinator, --num_processes and --process_id"
    ) from err
  if jax.process_count() > 1:
    _start_watchdog(timeout, interval=1.0)


def replicate(tree, sharding):
  """Host values (the same on every process) as global arrays on a replicated sharding of the whole mesh."""
  return jax.tree_util.tree_map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), tree)


def is_main() -> bool:
  """Process 0 writes the run's files and prints its progress."""
  return jax.process_index() == 0


def _lost(message: str) -> None:
  sys.stderr.write(
    f"\nerror: {message}; this process stops. Rerun every process with the same command to resume from the last checkpoint.\n"
  )
  sys.stderr.flush()
  os._exit(EXIT_PEER_LOST)  # the main thread may be blocked in a collective that will never complete


def _try_get(client, key: str) -> str | None:
  """A key's value, or None while the peer has not written it yet."""
  try:
    return client.key_value_try_get(key)
  except Exception as err:
    if "not found" in str(err).lower():
      return None
    raise


def _start_watchdog(timeout: float, interval: float) -> None:
  client, me, count = jax_distributed.global_state.client, jax.process_index(), jax.process_count()
  peers = [p for p in range(count) if p != me]

  def watch():
    seen = {p: (None, time.monotonic()) for p in peers}
    beat = 0
    while True:
      beat += 1
      try:
        client.key_value_set(_KEY.format(me), str(beat), allow_overwrite=True)
        values = {p: _try_get(client, _KEY.format(p)) for p in peers}
      except Exception:  # any failure to reach the coordination service means the same
        _lost("the coordination service (process 0) stopped answering")
      now = time.monotonic()
      for p in peers:
        value, since = seen[p]
        if values[p] is not None and values[p] != value:
          seen[p] = (values[p], now)
        elif now - since > timeout:
          _lost(f"process {p} of {count} stopped responding (no heartbeat for {timeout:.0f} s)")
      time.sleep(interval)

  threading.Thread(target=watch, name="mtm_jax-peer-watchdog", daemon=True).start()
