#!/usr/bin/env bash
# Installs the Debian 12 packages harpe needs. Idempotent (installs only what is missing), quiet,
# and fails loudly. Usage: scripts/setup.sh [--corpora-large] [--list]
#   --list           print every package with the reason it is needed, install nothing
#   --corpora-large  also the larger corpora (docs/data.md)
# Checked on a bare Debian 12 root by ../shared/tools/fresh-machine-check (README, "Contributing").
set -euo pipefail

# package | why harpe needs it. Not here on purpose: ocl-icd-opencl-dev (oneDNN is found without
# its OpenCL GPU headers, cmake/FindDnnlCpu.cmake) and libopenblas-dev (only the optional
# bench_gemm_libs comparison uses it; built when present).
table=(
  "build-essential|C++20 compiler (g++ 12), make"
  "cmake|build system (CMake 3.25) and CTest"
  "pkg-config|finds SentencePiece (and OpenBLAS for the optional GEMM comparison)"
  "git|clone and update the repository"
  "libgtest-dev|GoogleTest: the test suite"
  "libgmock-dev|GoogleMock matchers used by the test suite"
  "libbenchmark-dev|Google Benchmark: bench/ programs"
  "libdnnl-dev|oneDNN: every GEMM (src/kernels/gemm)"
  "libomp-dev|OpenMP headers (the runtime is GCC's libgomp, shared with oneDNN)"
  "nlohmann-json3-dev|config.json, safetensors headers, results.json"
  "libcli11-dev|command-line parsing (src/cli)"
  "libsentencepiece-dev|tokenizer library (src/data/tokenizer)"
  "sentencepiece|spm_train and friends, to inspect tokenizers by hand"
  "libopenmpi-dev|MPI data/context-parallel training (HARPE_MPI)"
  "openmpi-bin|mpirun, for distributed runs and their tests"
  "gnuplot-nox|waveform, heatmap and curve pictures (SVG)"
  "jq|reproduce.sh merges per-model results"
  "clang-format|scripts/format.sh --check (the test command checks the code format)"
  "clang|libFuzzer targets (tests/fuzz, scripts/fuzz.sh; the test command runs them briefly)"
  "libclang-rt-14-dev|libFuzzer and sanitizer runtimes for clang 14 (scripts/fuzz.sh)"
  "bible-kjv|the default corpus: prose (demo, tests)"
  "bible-kjv-text|the default corpus: the KJV text itself"
  "pari-doc|the default corpus: mathematical prose (demo, tests)"
)
if [[ "${1:-}" == "--corpora-large" ]]; then
  table+=("hol-light|large corpus: code" "python3.11-doc|large corpus: documentation"
          "linux-doc-6.1|large corpus: kernel documentation")
fi
if [[ "${1:-}" == "--list" ]]; then
  for row in "${table[@]}"; do printf '%-22s %s\n' "${row%%|*}" "${row#*|}"; done
  exit 0
fi

missing=()
for row in "${table[@]}"; do
  p=${row%%|*}
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$row")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: FAILED: not root and no sudo; run as root" >&2; exit 1; }
  SUDO="sudo"
fi
names=()
echo "setup: installing ${#missing[@]} package(s):"
for row in "${missing[@]}"; do
  printf '  %-22s %s\n' "${row%%|*}" "${row#*|}"
  names+=("${row%%|*}")
done
log=$(mktemp)
if ! { $SUDO apt-get update -qq && \
       DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${names[@]}"; } >"$log" 2>&1; then
  echo "setup: FAILED to install packages; apt said:" >&2
  tail -n 30 "$log" >&2
  exit 1
fi
rm -f "$log"
echo "setup: done"
