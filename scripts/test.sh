#!/usr/bin/env bash
# The README's test command: set up, check the code format (scripts/format.sh --check), build, run
# the test suite; then an ASan+UBSan build of the same suite and a short run of each fuzz target
# (scripts/fuzz.sh). Usage: scripts/test.sh [--no-sanitize]   (skips both)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/format.sh --check
jobs=$(nproc)
# Parallel test programs share the cores; spinning OpenMP workers would steal them from each other.
export OMP_WAIT_POLICY=passive

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DHARPE_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 900

if [[ "${1:-}" != "--no-sanitize" ]]; then
  echo "== sanitizer build (ASan + UBSan) =="
  # -g1: line tables only. The sanitizers' reports (inlined frames included) name file:line as
  # with -g; the full debug info, only a debugger reads it, cost a quarter of this build's CPU time.
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHARPE_SANITIZE=ON \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
        -DHARPE_WERROR=ON -DHARPE_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" --timeout 1800 -LE slow
  echo "== fuzz targets (5 s each) =="
  bash scripts/fuzz.sh --seconds 5
fi
