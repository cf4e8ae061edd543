#!/usr/bin/env bash
# harpe vs llama.cpp on the same model, in one process (bench/llamacpp_check speed): prefill
# tokens/s and decode tokens/s at several context lengths, same thread count (docs/engine.md).
# Opt-in like scripts/llamacpp_check.sh (installs llama.cpp's prebuilt library from npm).
#
#   scripts/bench_llamacpp.sh     # env: PRESET (small), CONTEXTS (512,4096,16384), DECODE (64),
#                                 #      THREADS (2), TYPE (f32: the GGUF's matrices, f16 also
#                                 #      works), PRECISION (harpe's weights in memory:
#                                 #      fp32, bf16 or auto), BUILD (build), OUT (out/llamacpp)
# The model is the preset with random weights (speed does not depend on their values).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=${OUT:-out/llamacpp}
PRESET=${PRESET:-small}
CONTEXTS=${CONTEXTS:-512,4096,16384}
DECODE=${DECODE:-64}
THREADS=${THREADS:-2}
TYPE=${TYPE:-f32}
PRECISION=${PRECISION:-fp32}
LL=$(scripts/llamacpp_setup.sh)
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHARPE_WERROR=ON -DHARPE_LLAMACPP_DIR="$LL" >/dev/null
nice cmake --build "$BUILD" -j"${JOBS:-2}" --target harpe llamacpp_check >/dev/null
CHECK=$BUILD/bench/llamacpp_check
max_ctx=$(tr ',' '\n' <<<"$CONTEXTS" | sort -n | tail -1)
mkdir -p "$OUT"
mkdir -p "$OUT/speed-$PRESET"
"$CHECK" init --preset "$PRESET" --context $((max_ctx + 2 * DECODE + 256)) --out "$OUT/speed-$PRESET" >/dev/null
"$BUILD/src/harpe" export gguf --model "$OUT/speed-$PRESET" --out "$OUT/speed-$PRESET-$TYPE.gguf" --type "$TYPE" 2>/dev/null
echo "harpe $(git rev-parse --short HEAD); $(lscpu | grep 'Model name' | sed 's/  */ /g'); load: $(uptime | sed 's/.*load average/load average/')"
OMP_NUM_THREADS=$THREADS "$CHECK" speed --model "$OUT/speed-$PRESET" --gguf "$OUT/speed-$PRESET-$TYPE.gguf" \
  --contexts "$CONTEXTS" --decode "$DECODE" --threads "$THREADS" --precision "$PRECISION"
