#!/usr/bin/env bash
# Installs the Debian 12 packages harpe needs. Idempotent (installs only what is missing), quiet,
# and fails loudly. Usage: scripts/setup.sh [--corpora-large]
set -euo pipefail

packages=(
  # toolchain and test/bench frameworks
  build-essential cmake pkg-config git libgtest-dev libgmock-dev libbenchmark-dev
  # compute: oneDNN for GEMM, OpenMP
  libdnnl-dev libomp-dev
  # formats and CLI
  nlohmann-json3-dev libcli11-dev
  # tokenizer
  libsentencepiece-dev sentencepiece
  # distributed training (optional at configure time: HARPE_MPI)
  libopenmpi-dev openmpi-bin
  # plots (waveforms, heatmaps)
  gnuplot-nox
  # reproduce.sh merges per-model results with jq
  jq
  # the small default corpus (prose + math) used by the demo and CI
  bible-kjv bible-kjv-text pari-doc
)
if [[ "${1:-}" == "--corpora-large" ]]; then
  packages+=(hol-light python3.11-doc linux-doc-6.1)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "setup: installing ${#missing[@]} package(s): ${missing[*]}"
log=$(mktemp)
if ! { $SUDO apt-get update -qq && \
       DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  echo "setup: FAILED to install packages; apt said:" >&2
  tail -n 30 "$log" >&2
  exit 1
fi
rm -f "$log"
echo "setup: done"
