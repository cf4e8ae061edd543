#!/usr/bin/env bash
# External truth for `harpe export gguf` (docs/formats.md, "GGUF export"): exports models to GGUF
# and checks that llama.cpp's logits on the same token ids match harpe's. Opt-in (not part of
# scripts/test.sh): it installs llama.cpp's prebuilt library from npm (scripts/llamacpp_setup.sh)
# and builds bench/llamacpp_check against it.
#
#   scripts/llamacpp_check.sh          # env: BUILD (build dir, default build), OUT (out/llamacpp),
#                                      #      TOKENS (256), JOBS (2)
# Models: configs/recall-base (trained, plain RoPE, MHA, tied embeddings); the same weights with a
# YaRN config (factor 4 over the original 64 tokens); with PI, NTK and Llama 3 configs; and a
# random micro preset with GQA (4 query / 2 KV heads), an untied output and q/k weights scaled
# up so that attention depends on positions, in both layouts. Each in F32 and F16. The F16 files
# are compared with harpe's weights rounded to F16 the same way. Then the SentencePiece metadata
# (a tokenizer trained on docs/, text tokenized by both), a negative control and the HARPE refusal.
# Exit status 1 when any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=${OUT:-out/llamacpp}
TOKENS=${TOKENS:-256}
LL=$(scripts/llamacpp_setup.sh)
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHARPE_WERROR=ON -DHARPE_LLAMACPP_DIR="$LL" >/dev/null
nice cmake --build "$BUILD" -j"${JOBS:-2}" --target harpe llamacpp_check >/dev/null
HARPE=$BUILD/src/harpe
CHECK=$BUILD/bench/llamacpp_check
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$OUT"

# recall-base with another rope_scaling (the weights do not depend on it; the logits do).
variant() {  # name, max_position_embeddings, rope_scaling JSON
  rm -rf "${OUT:?}/$1" && mkdir -p "$OUT/$1"
  cp configs/recall-base/model.safetensors "$OUT/$1/"
  sed -e "s/\"max_position_embeddings\": 64/\"max_position_embeddings\": $2/" \
    -e "s/\"rope_scaling\": null/\"rope_scaling\": $3/" configs/recall-base/config.json >"$OUT/$1/config.json"
}
variant recall-yarn 256 '{"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}'
variant recall-pi 256 '{"rope_type": "linear", "factor": 4.0}'
variant recall-ntk 256 '{"rope_type": "ntk", "factor": 4.0}'
variant recall-llama3 256 '{"rope_type": "llama3", "factor": 4.0, "original_max_position_embeddings": 64, "low_freq_factor": 1.0, "high_freq_factor": 4.0}'
mkdir -p "$OUT/micro-gqa" "$OUT/micro-gqa-interleaved"
"$CHECK" init --preset micro --untied --context 512 --seed 3 --qk-scale 30 --out "$OUT/micro-gqa" >/dev/null
# The same weights declared interleaved (harpe rotates adjacent pairs; exported unpermuted).
cp "$OUT/micro-gqa/model.safetensors" "$OUT/micro-gqa-interleaved/"
sed 's/"rope_theta"/"harpe_layout": "interleaved", "rope_theta"/' "$OUT/micro-gqa/config.json" \
  >"$OUT/micro-gqa-interleaved/config.json"

fails=0
echo "harpe $(git rev-parse --short HEAD), llama.cpp from node-llama-cpp $(node -p "require('$LL/node_modules/node-llama-cpp/package.json').version"), $TOKENS random token ids"
for m in configs/recall-base "$OUT/recall-yarn" "$OUT/recall-pi" "$OUT/recall-ntk" "$OUT/recall-llama3" "$OUT/micro-gqa" \
  "$OUT/micro-gqa-interleaved"; do
  name=$(basename "$m")
  for type in f32 f16; do
    "$HARPE" export gguf --model "$m" --out "$OUT/$name-$type.gguf" --type "$type" 2>/dev/null
    flag=() tol=1e-3
    [[ $type == f16 ]] && flag=(--f16) tol=${F16_TOL:-5e-2}
    "$CHECK" logits --model "$m" --gguf "$OUT/$name-$type.gguf" --tokens "$TOKENS" --tol "$tol" "${flag[@]}" || fails=$((fails + 1))
  done
done
# SentencePiece metadata: a BPE tokenizer (vocabulary 512, like recall-base's) trained on docs/,
# exported with recall-base's weights; README.md and docs/*.md tokenized by both.
rm -rf "$OUT/spm" && mkdir -p "$OUT/spm"
"$HARPE" data corpus --sources docs=docs --out "$OUT/spm/corpus" >/dev/null 2>&1
"$HARPE" data tokenizer --corpus "$OUT/spm/corpus" --vocab 512 --out "$OUT/spm/tokenizer.model" >/dev/null 2>&1
"$HARPE" export gguf --model configs/recall-base --tokenizer "$OUT/spm/tokenizer.model" --out "$OUT/spm/recall-base-spm.gguf" 2>/dev/null
cat README.md docs/*.md >"$OUT/spm/text.txt"
"$CHECK" tokens --gguf "$OUT/spm/recall-base-spm.gguf" --tokenizer "$OUT/spm/tokenizer.model" \
  --text "$OUT/spm/text.txt" || fails=$((fails + 1))
# The check can fail: half_split weights exported without the q/k permutation.
if "$CHECK" logits --model "$OUT/micro-gqa" --gguf "$OUT/micro-gqa-interleaved-f32.gguf" \
  --tokens "$TOKENS" >"$OUT/negative.txt" 2>&1; then
  echo "FAIL: the negative control passed"; fails=$((fails + 1))
else
  echo "negative control (no q/k permutation) fails as it should: $(tail -1 "$OUT/negative.txt")"
fi
# A HARPE checkpoint is refused, with the reason.
variant recall-harpe 256 '{"rope_type": "harpe", "bases": [10000.0, 20000.0, 40000.0, 80000.0]}'
if "$HARPE" export gguf --model "$OUT/recall-harpe" --out "$OUT/recall-harpe.gguf" 2>"$OUT/harpe-refusal.txt"; then
  echo "FAIL: a HARPE checkpoint was exported"; fails=$((fails + 1))
else
  echo "HARPE checkpoint refused: $(cat "$OUT/harpe-refusal.txt")"
fi
echo "$fails check(s) failed"
[[ $fails == 0 ]]
