#!/usr/bin/env bash
# The README's main job, on a fresh Debian 12 machine: install what is missing, build (Release),
# then
#   1. print HARPE's per-head bases for the paper's setting (Llama2-7B: 32 heads, head dim 128,
#      b 1e6..5e6, stride 3e4, 128k context), by the peak-valley search and the uniform spread;
#   2. run the short comparison on associative recall (scripts/reproduce.sh --preset recall-demo,
#      a few minutes on an idle 2-core machine; docs/recall.md): the shipped base model
#      (configs/recall-base, trained at C0 = 64, retrieves there) extended to 32*C0 = 2048 by HARPE
#      (peak-valley), ABF and YaRN under the same budget, recall at 1x..32x C0 against the
#      un-extended base, a comparison table and an HTML report with charts and heatmaps.
# Output: out/demo/ (report/comparison.html, timings.tsv). Rerunning resumes and skips finished steps.
# Usage: scripts/demo.sh [--bases-only]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target harpe
mkdir -p out
echo "== HARPE peak-valley bases, paper setting (32 heads, d=128, 1e6..5e6 step 3e4, 131072) =="
time ./build/src/harpe bases --strategy peak-valley --heads 32 --head-dim 128 --min 1e6 --max 5e6 \
  --stride 3e4 --context 131072 --plot out/bases_peak_valley.svg
echo "== uniform spread (paper Eq. 9) =="
./build/src/harpe bases --strategy uniform --heads 32 --min 1e6 --max 5e6
echo "waveform plot: out/bases_peak_valley.svg"
[[ "${1:-}" == "--bases-only" ]] && exit 0

echo "== associative recall: HARPE, ABF, YaRN extend C0 64 -> 2048 (scripts/reproduce.sh --preset recall-demo) =="
bash scripts/reproduce.sh --preset recall-demo --out out/demo --harpe ./build/src/harpe --keep-going
echo "report: out/demo/report/comparison.html   timings: out/demo/timings.tsv"
