#!/bin/bash
# Ours against the reference PyTorch MTM at any width and batch, alternating in one run (../shared/anchor/
# compare.sh does the same at the reference's own width 512 only). Run from the project root:
#   [REF_STEPS=60] bash benchmarks/compare_reference.sh [runs=3] [width=128] [batch=256]
# Prints both medians and the ratio ours/reference on its last line.
set -euo pipefail
runs=${1:-3}; width=${2:-128}; batch=${3:-256}
# The reference draws one mask per batch, so its work per step swings with the draw: 60 steps bring its mean
# visible tokens near the distribution's 4.13 (ours draws one per sample, so 10 steps already average out).
ref_steps=${REF_STEPS:-60}
anchor=${ANCHOR:-/tmp/anchor}
[[ -x .venv/bin/python ]] || { echo "no .venv here: run from the project root after make"; exit 1; }
[[ -x $anchor/venv/bin/python ]] || { echo "reference missing: run ../shared/anchor/build.sh"; exit 1; }
ours=(); theirs=()
for ((i = 0; i < runs; i++)); do
  ours+=($(.venv/bin/python -m benchmarks.train_throughput --steps 10 --width "$width" --batch "$batch" 2>/dev/null \
    | grep -o 'samples_per_s=[0-9.]*' | tail -n 1 | cut -d= -f2))
  theirs+=($(WIDTH=$width B=$batch PYTHONPATH="$anchor/stubs:$anchor:." "$anchor/venv/bin/python" -m benchmarks.profile_reference_torch "$ref_steps" --time \
    2>/dev/null | grep -o 'samples_per_s=[0-9.]*' | cut -d= -f2))
done
python3 - "${ours[*]}" "${theirs[*]}" "$width" "$batch" <<'PY'
import statistics, sys
o = [float(x) for x in sys.argv[1].split()]; t = [float(x) for x in sys.argv[2].split()]
if not o or not t:
    print(f"no figure: ours={o} reference={t}"); sys.exit(1)
r = statistics.median(o) / statistics.median(t)
print(f"width {sys.argv[3]} batch {sys.argv[4]}: ours {statistics.median(o):.0f} samples/s {o}; "
      f"reference {statistics.median(t):.0f} samples/s {t}; ratio {r:.2f}")
PY
