"""Train a masked trajectory model.

python -m experiments.train --config configs/sinusoid.py --workdir runs/sinusoid [--config.train.num_steps=100]
Re-running with the same --workdir resumes from its newest checkpoint.

Multi-process (one per host, the same command on each):
python -m experiments.train ... --num_processes=N --process_id=I --coordinator=HOST0:PORT
(--num_processes=-1: JAX's cluster auto-detection, e.g. on a Cloud TPU slice or under SLURM).
"""

from absl import flags
from ml_collections import config_flags

from experiments import cli
from mtm_jax import distributed
from mtm_jax.train import train_and_evaluate

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file (configs/NAME.py[:variant]).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics.jsonl and config.json.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", 1, "Processes in the run; -1: detect the cluster (TPU, SLURM).")
_PROCESS_ID = flags.DEFINE_integer("process_id", 0, "This process's index in [0, num_processes).")
_COORDINATOR = flags.DEFINE_string("coordinator", "", "HOST:PORT of process 0 (every process passes the same).")
_PEER_TIMEOUT = flags.DEFINE_float("peer_timeout", 20.0, "Seconds without a peer's heartbeat before this process stops.")
flags.mark_flags_as_required(["config", "workdir"])


def main():
  if _NUM_PROCESSES.value != 1:  # before anything touches a device
    distributed.initialize(max(_NUM_PROCESSES.value, 0), _PROCESS_ID.value, _COORDINATOR.value, timeout=_PEER_TIMEOUT.value)
  train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  cli.run(main)
