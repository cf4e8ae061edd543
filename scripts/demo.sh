#!/usr/bin/env bash
# The README's main job: set up, build, and run the short demo.
# Today: HARPE's per-head bases for the paper's setting (Llama2-7B, 32 heads, head dim 128,
# b 1e6..5e6, stride 3e4, 128k context), by the peak-valley search and by the uniform spread.
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
