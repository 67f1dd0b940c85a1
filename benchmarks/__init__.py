"""Speed, memory and parity benchmarks, run from the repository root as python -m benchmarks.NAME."""
