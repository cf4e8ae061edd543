#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz: safetensors, its shard index, shard, config.json,
# recall JSONL, results.json) with clang + ASan + UBSan in build-fuzz/, and runs each for N seconds from a corpus
# of valid files (build-fuzz/corpus/<target>, kept between runs). A crash, sanitizer report or
# unexpected exception fails the script and leaves the input in build-fuzz/crash-<target>-*.
# Usage: scripts/fuzz.sh [--seconds N]      (the test command runs 5 s each; docs/promises.md
#                                            documents the longer run: --seconds 600)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10
while (($#)); do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a value}"; shift 2 ;;
    *) echo "fuzz: unknown argument $1 (usage: scripts/fuzz.sh [--seconds N])" >&2; exit 2 ;;
  esac
done
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (scripts/setup.sh installs clang)" >&2; exit 2; }
targets=(safetensors safetensors_index shard config recall_jsonl results)
# -g1 (line tables only): crash reports name file:line, inlined frames included, as with -g.
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DHARPE_FUZZ=ON \
  -DHARPE_WERROR=ON -DHARPE_NATIVE=OFF -DHARPE_BUILD_TESTS=OFF -DHARPE_BUILD_BENCH=OFF -DHARPE_MPI=OFF \
  >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

# Seeds: small valid inputs of every format, made by the release build's tests' tools when
# present, else a few hand-written ones.
seed() {  # TARGET FILE CONTENT
  mkdir -p "build-fuzz/corpus/$1"
  [[ -f "build-fuzz/corpus/$1/$2" ]] || printf '%s' "$3" >"build-fuzz/corpus/$1/$2"
}
seed config llama.json '{"vocab_size":256,"hidden_size":64,"intermediate_size":160,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"max_position_embeddings":64,"rope_theta":10000,"rope_scaling":{"rope_type":"yarn","factor":4,"original_max_position_embeddings":64}}'
seed safetensors_index two.json '{"metadata":{"total_size":60},"weight_map":{"a":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}}'
seed recall_jsonl two.jsonl '{"variant":"single","vocab":16,"tokens":[1,9,12,2,3,9,12],"queries":[{"at":6,"answers":[12],"distance":4}]}
{"vocab":8,"tokens":[1,2,3],"queries":[{"at":2,"answers":[3],"order_free":true}]}'
seed results run.json '{"schema":"harpe.eval.v1","name":"r","meta":{"group":"g"},"tasks":[{"task":"niah_single_1","length":64,"score":50,"samples":2,"predictions":[{"output":"a b","expected":["a"]}]}],"recall":[{"variant":"multiquery","length":64,"queries":4,"queries_exact":3,"sequences":1,"sequences_exact":0,"buckets":[{"lo":16,"hi":32,"queries":4,"exact":3}]}],"ppl":[{"dataset":"d","window":64,"stride":16,"nll_sum":10,"tokens":5}]}'
# Binary seeds (bash variables cannot hold NUL bytes): one F32 tensor of value 1; a shard header.
if [[ ! -f build-fuzz/corpus/safetensors/one.bin ]]; then
  mkdir -p build-fuzz/corpus/safetensors
  printf '\x36\x00\x00\x00\x00\x00\x00\x00%s\x00\x00\x80\x3f' \
    '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' >build-fuzz/corpus/safetensors/one.bin
fi
# A real shard (header, tables, loss mask) and JSONL from the release build when it is there (the
# test command builds it first); else the fuzzer starts from the shard magic alone.
harpe=build/src/harpe
if [[ -x $harpe && ! -f build-fuzz/corpus/shard/recall.bin ]]; then
  mkdir -p build-fuzz/corpus/shard build-fuzz/corpus/recall_jsonl
  "$harpe" data recall --out build-fuzz/corpus/shard/recall.bin \
    --jsonl build-fuzz/corpus/recall_jsonl/mixed.jsonl --variants all,copy --length 32 -n 5 \
    --vocab 64 --pairs 2 --values 2 --span 4 >/dev/null
fi
seed shard magic.bin "HRPSHRD1"
status=0
for t in "${targets[@]}"; do
  echo "== fuzz_$t: ${seconds} s"
  if ! ASAN_OPTIONS=detect_leaks=0 "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$seconds" \
       -max_len=65536 -rss_limit_mb=4096 -print_final_stats=0 \
       -artifact_prefix="build-fuzz/crash-$t-" "build-fuzz/corpus/$t" 2>"build-fuzz/fuzz_$t.log"; then
    echo "fuzz_$t FAILED: see build-fuzz/fuzz_$t.log and build-fuzz/crash-$t-*" >&2
    tail -n 30 "build-fuzz/fuzz_$t.log" >&2
    status=1
  else
    grep -E '^#[0-9]+.*(DONE|pulse)' "build-fuzz/fuzz_$t.log" | tail -n 1 || true
  fi
done
exit "$status"
