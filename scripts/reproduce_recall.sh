#!/usr/bin/env bash
# The paper's question on associative recall (docs/recall.md), end to end and resumable:
#   recall data at C0 -> a base that retrieves at C0 (or the preset's shipped base) -> extended to
#   32*C0 by every method, same token budget and data, for each seed -> recall at 1x..32x C0 per
#   variant and distance, Self-Extend and the un-extended base -> `harpe report` (mean and min-max
#   over seeds, charts, heatmaps).
#
# Usage: scripts/reproduce.sh --preset recall|recall-demo --out RUN_DIR [--harpe BIN] [--jobs N]
#                             [--keep-going] [--dry-run]
# reproduce.sh sources this file for presets with KIND=recall, once it has parsed the arguments
# (preset, out, harpe, jobs, keep_going, dry, envfile), found the program and prepared RUN_DIR
# (out, D, timings); run it through reproduce.sh, not on its own.
#
# --jobs N runs N steps at once, each single-threaded (on 2 cores two 1-thread jobs train about
# twice as fast as one 2-thread job at these model sizes). Every step writes a marker file
# (RUN_DIR/.done/<step>) last and is skipped when rerun; wall times go to RUN_DIR/timings.tsv.
# shellcheck disable=SC2046
set -euo pipefail

BASE_CHECKPOINT="" SELF_EXTEND=1 EXT_PAIRS=4 EXT_COPY=uniform BASE_COPY=adjacent SPAN=24 EVAL_SPAN=16
# shellcheck disable=SC1090
source "$envfile"
L=$((32 * C0))
mkdir -p "$D"

log() { printf '== [%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }  # no blank line: output goes to logs
logged() { local f="$1"; shift; "$@" >"$f" 2>&1; }             # logged FILE CMD...

# step NAME CMD...: run CMD unless .done/NAME exists; time it; write the marker last. Output of a
# step goes to RUN_DIR/logs/NAME.log (printed when it fails).
step() {
  local name="$1"; shift
  local marker="$out/.done/$name" logf="$out/logs/$name.log"
  if [[ -f "$marker" ]]; then log "$name: done before, skipped"; return 0; fi
  log "$name: started"
  ((dry)) && { echo "   $*"; return 0; }
  mkdir -p "$out/logs"
  local rc=0
  timed "$name" logged "$logf" "$@" || rc=$?
  if ((rc != 0)); then
    log "$name: FAILED (exit $rc) after ${step_secs} s; last lines of $logf:"
    tail -n 5 "$logf" >&2
    return "$rc"
  fi
}

# A pool of `jobs` parallel steps, each single-threaded. pool_run NAME CMD... queues; pool_wait
# waits for all and fails (unless --keep-going) when one failed.
pool_failed=0
pool_run() {
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || pool_failed=1; done
  OMP_NUM_THREADS=1 step "$@" &
}
pool_wait() {
  while (($(jobs -rp | wc -l) > 0)); do wait -n || pool_failed=1; done
  if ((pool_failed)); then
    ((keep_going)) || { echo "reproduce: a step failed (rerun to resume; --keep-going to continue)" >&2; exit 1; }
  fi
}

resume_flag() { if [[ -d "$1/checkpoint" ]]; then echo --resume; fi; }

# ---------------------------------------------------------------------------------------------
log "preset $preset ($envfile), C0 $C0 -> L $L, seeds: $SEEDS, methods: $METHODS, jobs $jobs"
"$harpe" --version || true

# The base: the preset's shipped checkpoint, or trained here on recall data at C0.
if [[ -n "$BASE_CHECKPOINT" ]]; then
  base="$ROOT/$BASE_CHECKPOINT"
  [[ -f "$base/model.safetensors" ]] || { echo "reproduce: error: $base has no model.safetensors" >&2; exit 2; }
  log "base: shipped checkpoint $base (configs/recall-base/README.md says how it was made)"
else
  step data-base "$harpe" data recall --out "$D/base.bin" --length "$C0" --samples "$BASE_SAMPLES" \
    --variants "$BASE_VARIANTS" --copy "$BASE_COPY" --span "$SPAN" --vocab "$VOCAB" --seed 1
  pretrain() {
    "$harpe" pretrain --config "$ROOT/$MODEL_CONFIG" --data "$D/base.bin" --out "$out/base" \
      --context "$C0" --batch "$PRE_BATCH" --steps "$PRE_STEPS" --lr "$PRE_LR" --warmup "$PRE_WARMUP" \
      --schedule constant --loss answers --save-every 500 --log-every 100 --precision fp32 \
      $(resume_flag "$out/base")
  }
  # One thread: the shipped base (configs/recall-base) was made so, and is bit-identical to this.
  OMP_NUM_THREADS=1 step pretrain pretrain || exit 1
  base="$out/base/checkpoint"
fi

# The extension data: recall sequences of L tokens, distances uniform over the window, one shard
# per seed (the seed changes the sequences and their order; the budget is the same).
for s in $SEEDS; do
  pool_run "data-ext-s$s" "$harpe" data recall --out "$D/ext-s$s.bin" --length "$L" \
    --samples "$EXT_SAMPLES" --variants "$EXT_VARIANTS" --copy "$EXT_COPY" --span "$SPAN" --pairs "$EXT_PAIRS" \
    --vocab "$VOCAB" --seed "$((100 + s))"
done
pool_wait

settings() { "$harpe" extend --print-settings --from "$base" --context "$L"; }
setting() { settings | awk -v k="$1" 'index($0, k) { print $NF; exit }'; }
head_dim() { jq -r '.head_dim // (.hidden_size / .num_attention_heads)' "$base/config.json"; }

extend_args() {
  case "$1" in
    pi|ntk|yarn|abf) echo "--method $1" ;;
    abf3) echo "--method abf --stages scaled" ;;
    harpe-pv) echo "--method harpe --bases peak-valley" ;;
    harpe-uni) echo "--method harpe --bases uniform" ;;
    harpe-desc) echo "--method harpe --bases uniform-desc" ;;
    harpe-pv-s*k)
      # The paper's stride (in units of 1e3) mapped by its share of the paper's 1e6..5e6 range.
      local k="${1#harpe-pv-s}" bmin bmax; k="${k%k}"
      bmin="$(setting 'harpe b_min')"; bmax="$(setting 'harpe b_max')"
      echo "--method harpe --bases peak-valley --bases-stride $(awk -v a="$bmin" -v b="$bmax" -v k="$k" 'BEGIN{printf "%.6g", (b-a)*k*1000/4e6}')" ;;
    harpe-bound)
      # b_min at Men et al.'s bound for L, b_max at the paper's ratio (5e6 / 1e6 = 5).
      local b; b="$("$harpe" bases --lower-bound --head-dim "$(head_dim)" --context "$L" --json |
                    jq -r '.bounds[-1].base')"
      echo "--method harpe --bases peak-valley --bases-min $b --bases-max $(awk -v b="$b" 'BEGIN{printf "%.6g", 5*b}')" ;;
    *) echo "reproduce: error: unknown method '$1' in METHODS" >&2; return 1 ;;
  esac
}
extend() {  # METHOD SEED
  local m="$1" s="$2" args; args="$(extend_args "$m")"
  # shellcheck disable=SC2086
  "$harpe" extend --from "$base" --data "$D/ext-s$s.bin" --out "$out/ext/$m-s$s" $args \
    --context "$L" --tokens "$EXT_TOKENS" --batch "$EXT_BATCH" --lr "$EXT_LR" --loss answers \
    --data-seed "$s" --save-every 20 --log-every 10 --precision fp32 $(resume_flag "$out/ext/$m-s$s")
}
for s in $SEEDS; do
  for m in $METHODS; do pool_run "extend-$m-s$s" extend "$m" "$s"; done
done
pool_wait

# Evaluation: the base (no extension), Self-Extend on the base, every extended model and seed. Each
# seed also changes the evaluation sequences (--seed), so the spread covers both.
evaluate() {  # NAME GROUP CHECKPOINT SEED [--self-extend W,G]
  local name="$1" group="$2" ckpt="$3" s="$4"; shift 4
  "$harpe" eval recall --precision fp32 --model "$ckpt" "$@" --lengths "$EVAL_LENGTHS" --variants "$EVAL_VARIANTS" \
    --samples "$EVAL_SAMPLES" --span "$EVAL_SPAN" --seed "$((1000 + s))" \
    --out "$out/eval/$name" --name "$name" --group "$group"
}
runs=()
for s in $SEEDS; do
  pool_run "eval-base-s$s" evaluate "base-s$s" base "$base" "$s"
  runs+=("$out/eval/base-s$s")
  if ((SELF_EXTEND)); then
    pool_run "eval-self-extend-s$s" evaluate "self-extend-s$s" self-extend "$base" "$s" \
      --self-extend "$(setting 'self-extend window,group')"
    runs+=("$out/eval/self-extend-s$s")
  fi
  for m in $METHODS; do
    pool_run "eval-$m-s$s" evaluate "$m-s$s" "$m" "$out/ext/$m-s$s/checkpoint" "$s"
    runs+=("$out/eval/$m-s$s")
  done
done
pool_wait

# ---------------------------------------------------------------------------------------------
report() {
  local have=()
  for r in "${runs[@]}"; do [[ -f "$r/results.json" ]] && have+=("$r"); done
  ((${#have[@]})) || { echo "report: no evaluation results" >&2; return 1; }
  "$harpe" report "${have[@]}" --out "$out/report"
}
rm -f "$out/.done/report"  # the report always reflects the runs present now
step report report || exit 1
((dry)) || cat "$out/report/comparison.md"
log "timings ($timings):"
column -t -s $'\t' "$timings" 2>/dev/null || cat "$timings"
log "done: $out/report/comparison.html"
