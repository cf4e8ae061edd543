#!/usr/bin/env bash
# Scaling figures of issue 8 on this machine, one command:
#   DP: tokens/s of 2 data-parallel ranks x 1 thread vs 1 rank x 2 threads (same 2 cores, tiny
#       preset, context 128, global batch 8);
#   CP: peak RSS per rank and step time of a context-parallel step (CP=2, 1 thread each) vs the
#       1-rank step (1 and 2 threads) at one long context (tiny preset, batch 1).
# Usage: scripts/bench_distributed.sh --data SHARD [--harpe BIN] [--context 8192] [--steps 3]
# Prints one markdown table; every run's metrics.jsonl stays under $TMPDIR/harpe-bench-dist.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
data="" harpe="$ROOT/build/src/harpe" ctx=8192 steps=3
while (($#)); do
  case "$1" in
    --data) data="$2"; shift 2 ;;
    --harpe) harpe="$2"; shift 2 ;;
    --context) ctx="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_distributed: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ -f "$data" ]] || { echo "bench_distributed: --data SHARD is required (e.g. data/train.bin from harpe data prepare)" >&2; exit 2; }
[[ -x "$harpe" ]] || { echo "bench_distributed: no harpe program at $harpe (build it or pass --harpe)" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "bench_distributed: mpirun not found (scripts/setup.sh installs OpenMPI)" >&2; exit 2; }
work="${TMPDIR:-/tmp}/harpe-bench-dist"
rm -rf "$work"; mkdir -p "$work"
export OMP_WAIT_POLICY=passive
MPI=(mpirun --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS -x OMP_WAIT_POLICY -np 2)

# Median step_seconds over steps 2.. of a run's metrics.jsonl (step 1 includes warm-up costs).
median_step() { jq -s '[.[1:][].step_seconds] | sort | .[(length / 2 | floor)]' "$1/metrics.jsonl"; }
# Largest "Maximum resident set size" (kB) in a /usr/bin/time -v log, in MiB.
peak_mib() { awk -F: '/Maximum resident set size/ { v = $2 + 0; if (v > m) m = v } END { printf "%.0f", m / 1024 }' "$1"; }
row() {  # name dir timelog tokens_per_step
  local s; s="$(median_step "$2")"
  printf '| %s | %.3f | %.0f | %s |\n' "$1" "$s" "$(awk -v t="$4" -v s="$s" 'BEGIN { print t / s }')" "$(peak_mib "$3")"
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
DP="train --preset tiny --data $data --context 128 --batch 8 --steps $((steps + 2)) --warmup 1 --log-every 100"
OMP_NUM_THREADS=2 /usr/bin/time -v "$harpe" $DP --out "$work/dp1" 2>"$work/dp1.time" >/dev/null
OMP_NUM_THREADS=1 "${MPI[@]}" /usr/bin/time -v "$harpe" $DP --out "$work/dp2" --distributed 2>"$work/dp2.time" >/dev/null
CP="train --preset tiny --data $data --context $ctx --batch 1 --steps $steps --warmup 1 --log-every 100"
OMP_NUM_THREADS=1 /usr/bin/time -v "$harpe" $CP --out "$work/cp1t1" 2>"$work/cp1t1.time" >/dev/null
OMP_NUM_THREADS=2 /usr/bin/time -v "$harpe" $CP --out "$work/cp1t2" 2>"$work/cp1t2.time" >/dev/null
# /usr/bin/time inside mpirun: one "Maximum resident set size" per rank; the table shows the larger.
OMP_NUM_THREADS=1 "${MPI[@]}" /usr/bin/time -v "$harpe" $CP --out "$work/cp2" --context-parallel 2 \
  2>"$work/cp2.time" >/dev/null
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

echo "| run | step s (median) | tokens/s | peak RSS MiB (max over ranks) |"
echo "|---|---:|---:|---:|"
row "DP: 1 rank x 2 threads, ctx 128, batch 8" "$work/dp1" "$work/dp1.time" 1024
row "DP: 2 ranks x 1 thread (DP=2)" "$work/dp2" "$work/dp2.time" 1024
row "CP: 1 rank x 1 thread, ctx $ctx" "$work/cp1t1" "$work/cp1t1.time" "$ctx"
row "CP: 1 rank x 2 threads, ctx $ctx" "$work/cp1t2" "$work/cp1t2.time" "$ctx"
row "CP: 2 ranks x 1 thread (CP=2), ctx $ctx" "$work/cp2" "$work/cp2.time" "$ctx"
for r in dp1 dp2 cp1t1 cp1t2 cp2; do
  printf '%s losses: %s\n' "$r" "$(jq -r '.loss' "$work/$r/metrics.jsonl" | awk '{ printf "%.5f ", $1 }')"
done
