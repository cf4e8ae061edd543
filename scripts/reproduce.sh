#!/usr/bin/env bash
# The paper's comparison at small scale, end to end and resumable:
#   corpus + tokenizer -> base model at C0 -> extended to 32*C0 by each method (same token budget and
#   hyper-parameters) -> perplexity (pari = math, bible = prose), NIAH tasks, needle heatmap,
#   short-context retention -> `harpe report` over all runs.
#
# Usage: scripts/reproduce.sh --preset demo|core|full|passkey|passkey-4x|recall|recall-demo --out RUN_DIR
#                             [--harpe BIN] [--jobs N]
#                             [--keep-going] [--dry-run]
#
# Every step writes a marker file (RUN_DIR/.done/<step>) last; a rerun skips steps whose marker
# exists. An interrupted training step (Ctrl-C saves a checkpoint; a hard kill keeps the last
# --save-every checkpoint) continues with --resume. Each step's wall time goes to RUN_DIR/timings.tsv
# (step, seconds, status, 1-minute load average at the start, UTC start time).
# Presets: configs/reproduce_<preset>.env (budgets and settings; docs/reproduce.md).
# Optional flags come from $(...) that prints nothing or several words, on purpose:
# shellcheck disable=SC2046
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
preset="" out="" harpe="" jobs=2 keep_going=0 dry=0
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --preset) preset="${2:?--preset needs a value}"; shift 2 ;;
    --out) out="${2:?--out needs a value}"; shift 2 ;;
    --harpe) harpe="${2:?--harpe needs a value}"; shift 2 ;;
    --jobs) jobs="${2:?--jobs needs a value}"; shift 2 ;;
    --keep-going) keep_going=1; shift ;;
    --dry-run) dry=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "reproduce: error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n "$preset" && -n "$out" ]] || { echo "reproduce: error: --preset and --out are required (see --help)" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "reproduce: error: --jobs must be a positive integer, got '$jobs'" >&2; exit 2; }
envfile="$ROOT/configs/reproduce_${preset}.env"
[[ -f "$envfile" ]] || { echo "reproduce: error: --preset $preset: no $envfile (demo, core, full, passkey, passkey-4x, recall, recall-demo)" >&2; exit 2; }
if [[ -z "$harpe" ]]; then
  for c in "$ROOT/build/src/harpe" "$ROOT"/build-*/src/harpe; do [[ -x "$c" ]] && { harpe="$c"; break; }; done
fi
[[ -x "$harpe" ]] || { echo "reproduce: error: no harpe program (build it, or pass --harpe BIN)" >&2; exit 2; }
harpe="$(cd "$(dirname "$harpe")" && pwd)/$(basename "$harpe")"
# Shared machines: without this, libgomp's spinning makes steps up to 12x slower (docs/engine.md).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

mkdir -p "$out/.done"
out="$(cd "$out" && pwd)"
D="$out/data"
timings="$out/timings.tsv"
[[ -f "$timings" ]] || printf 'step\tseconds\tstatus\tload1\tstart_utc\n' >"$timings"

log() { printf '\n== [%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# timed NAME CMD...: run CMD, append its wall time and status to timings.tsv, write .done/NAME
# (last) when it succeeds; returns CMD's status and leaves the seconds in $step_secs. Both
# pipelines' step() run their commands through it.
timed() {
  local name="$1"; shift
  local load start t0 t1 rc=0
  load="$(cut -d' ' -f1 /proc/loadavg)"
  start="$(date -u +%FT%TZ)"
  t0="$(date +%s.%N)"
  "$@" || rc=$?
  t1="$(date +%s.%N)"
  step_secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')"
  if ((rc == 0)); then
    printf '%s\t%s\tok\t%s\t%s\n' "$name" "$step_secs" "$load" "$start" >>"$timings"
    : >"$out/.done/$name"
    log "$name: ok in ${step_secs} s"
  else
    printf '%s\t%s\tfailed(%d)\t%s\t%s\n' "$name" "$step_secs" "$rc" "$load" "$start" >>"$timings"
  fi
  return "$rc"
}

# Associative-recall presets (docs/recall.md) have their own pipeline, on the same arguments,
# program and RUN_DIR.
if grep -q '^KIND=recall' "$envfile"; then
  # shellcheck source=scripts/reproduce_recall.sh
  source "$ROOT/scripts/reproduce_recall.sh"
  exit 0
fi

MODEL_PRESET="" MODEL_CONFIG="" SYNTHETIC_DOCS=0 NIAH_DOCS=0 NIAH_TOKENS="" EXT_NIAH_DOCS=0 EXT_NIAH_TOKENS="" PASSKEY_DOCS=0 COPY_DOCS=0 EXT_PASSKEY_DOCS=0 EXT_COPY_DOCS=0 NIAH_TTG="" HAYSTACK_SOURCE="" SELF_EXTEND=0 NEEDLE=0 SHORT=0 GENERATE=0 NEEDLE_DEPTHS=11 NEEDLE_SAMPLES=1
# shellcheck disable=SC1090
source "$envfile"
L=$((32 * C0))
failed=()

# step NAME CMD...: run CMD unless .done/NAME exists; time it; write the marker last.
step() {
  local name="$1"; shift
  local marker="$out/.done/$name"
  if [[ -f "$marker" ]]; then log "$name: done before, skipped"; return 0; fi
  log "$name: $*"
  ((dry)) && return 0
  local rc=0
  timed "$name" "$@" || rc=$?
  if ((rc != 0)); then
    log "$name: FAILED (exit $rc) after ${step_secs} s"
    if ((rc == 130)); then echo "reproduce: interrupted; rerun the same command to resume" >&2; exit 130; fi
    failed+=("$name")
    ((keep_going)) || { echo "reproduce: stopping (rerun to resume; --keep-going to continue past failures)" >&2; exit 1; }
  fi
}

# Training steps continue an existing checkpoint.
resume_flag() { if [[ -d "$1/checkpoint" ]]; then echo --resume; fi; }

# ---------------------------------------------------------------------------------------------
log "preset $preset ($envfile), C0 $C0 -> L $L, harpe $harpe, out $out, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$harpe" --version || true

syn_flag=()
if [[ ",$SOURCES," == *,synthetic,* ]]; then syn_flag=(--synthetic-docs "$SYNTHETIC_DOCS"); fi
niah_flag=() ext_niah_flag=()
if [[ ",$SOURCES," == *,niah,* ]]; then
  niah_flag=(--niah-haystack "${HAYSTACK_SOURCE:-bible}" --niah-docs "$NIAH_DOCS" --niah-tokens "$NIAH_TOKENS")
  ext_niah_flag=(--niah-haystack "${HAYSTACK_SOURCE:-bible}" --niah-docs "$EXT_NIAH_DOCS" --niah-tokens "$EXT_NIAH_TOKENS" --niah-seed 8)
  # Passkey prompts and copy drills (docs/data.md), only when the preset asks for them.
  if ((PASSKEY_DOCS + COPY_DOCS > 0)); then
    niah_flag+=(--niah-passkey-docs "$PASSKEY_DOCS" --niah-copy-docs "$COPY_DOCS")
  fi
  if ((EXT_PASSKEY_DOCS + EXT_COPY_DOCS > 0)); then
    ext_niah_flag+=(--niah-passkey-docs "$EXT_PASSKEY_DOCS" --niah-copy-docs "$EXT_COPY_DOCS")
  fi
fi
step data "$harpe" data prepare --out "$D" --sources "$SOURCES" --vocab "$VOCAB" "${syn_flag[@]}" "${niah_flag[@]}"

# The extension's data: the same sources with the tokenizer above, but NIAH-format documents as long
# as 32*C0 (EXT_NIAH_DOCS of them, seed apart), when the preset asks for them; else the same shard.
ext_data="$D/train.bin"
if ((EXT_NIAH_DOCS + EXT_PASSKEY_DOCS + EXT_COPY_DOCS > 0)); then
  ext_data="$out/data-ext/train.bin"
  step data-ext "$harpe" data prepare --out "$out/data-ext" --sources "$SOURCES" --tokenizer "$D/tokenizer.model" \
    "${syn_flag[@]}" "${ext_niah_flag[@]}"
fi

# The essay haystack of the NIAH tasks: the held-out documents of one source (prose, as RULER's
# essays), so synthetic training records or formulas never end up in a haystack.
haystack_flag() {
  if [[ -n "$HAYSTACK_SOURCE" ]]; then echo "--essay $out/haystack-$HAYSTACK_SOURCE.txt";
  else echo "--haystack-corpus $D/corpus"; fi
}
haystack() {
  jq -r --arg s "$HAYSTACK_SOURCE" 'select(.source == $s) | .text + "\n"' "$D/corpus/test.jsonl" \
    >"$out/haystack-$HAYSTACK_SOURCE.txt.tmp" && [[ -s "$out/haystack-$HAYSTACK_SOURCE.txt.tmp" ]] &&
    mv "$out/haystack-$HAYSTACK_SOURCE.txt.tmp" "$out/haystack-$HAYSTACK_SOURCE.txt"
}
if [[ -n "$HAYSTACK_SOURCE" ]]; then step "haystack-$HAYSTACK_SOURCE" haystack; fi

model_flag=()
if [[ -n "$MODEL_CONFIG" ]]; then model_flag=(--config "$ROOT/$MODEL_CONFIG"); else model_flag=(--preset "$MODEL_PRESET"); fi
pretrain() {
  "$harpe" pretrain "${model_flag[@]}" --data "$D/train.bin" --out "$out/base" --context "$C0" \
    --batch "$PRE_BATCH" --steps "$PRE_STEPS" --lr "$PRE_LR" --warmup "$PRE_WARMUP" \
    --save-every 100 --log-every 10 --tokenizer "$D/tokenizer.model" --precision fp32 \
    $(resume_flag "$out/base")
}
step pretrain pretrain

# Scaled settings (docs/extend.md) for this C0, L and head dim: HARPE b_min/b_max, Self-Extend W,G.
settings() { "$harpe" extend --print-settings --from "$out/base" --context "$L"; }
setting() { settings | awk -v k="$1" 'index($0, k) { print $NF; exit }'; }

# extend_args METHOD -> the flags that differ between methods (everything else is shared).
extend_args() {
  case "$1" in
    pi) echo "--method pi" ;;
    ntk) echo "--method ntk" ;;
    yarn) echo "--method yarn" ;;
    abf) echo "--method abf" ;;
    abf3) echo "--method abf --stages scaled" ;;
    harpe-pv) echo "--method harpe --bases peak-valley" ;;
    harpe-uni) echo "--method harpe --bases uniform" ;;
    harpe-desc) echo "--method harpe --bases uniform-desc" ;;
    harpe-pv-s*k)
      # The paper's stride (in units of 1e3) mapped by its share of the paper's 1e6..5e6 range.
      local k="${1#harpe-pv-s}"; k="${k%k}"
      local bmin bmax; bmin="$(setting 'harpe b_min')"; bmax="$(setting 'harpe b_max')"
      local s; s="$(awk -v a="$bmin" -v b="$bmax" -v k="$k" 'BEGIN{printf "%.6g", (b-a)*k*1000/4e6}')"
      echo "--method harpe --bases peak-valley --bases-stride $s" ;;
    *) echo "reproduce: error: unknown method '$1' in METHODS" >&2; return 1 ;;
  esac
}
extend() {
  local m="$1" args; args="$(extend_args "$m")"
  # shellcheck disable=SC2086
  "$harpe" extend --from "$out/base" --data "$ext_data" --out "$out/ext/$m" $args --context "$L" \
    --tokens "$EXT_TOKENS" --batch "$EXT_BATCH" --lr "$EXT_LR" --save-every 50 --log-every 10 \
    --precision fp32 $(resume_flag "$out/ext/$m")
}
for m in $METHODS; do step "extend-$m" extend "$m"; done

# ---------------------------------------------------------------------------------------------
# Evaluation. Models: the base (no extension), Self-Extend on the base, each extended model.
models=(base)
((SELF_EXTEND)) && models+=(self-extend)
for m in $METHODS; do models+=("$m"); done
ckpt() { case "$1" in base|self-extend) echo "$out/base/checkpoint" ;; *) echo "$out/ext/$1/checkpoint" ;; esac; }
se_flag() { if [[ "$1" == self-extend ]]; then echo "--self-extend $(setting 'self-extend window,group')"; fi; }
niah_csv="$(echo "$NIAH_LENGTHS" | tr ' ' ',')"
ttg_flag() { if [[ -n "$NIAH_TTG" ]]; then echo "--tokens-to-generate $NIAH_TTG"; fi; }

eval_ppl() {  # MODEL SOURCE: one window length at a time (stride = length / PPL_STRIDE_DIV)
  local m="$1" src="$2"
  for len in $PPL_LENGTHS; do
    local o="$out/eval/$m/ppl-$src-$len"
    "$harpe" eval ppl --precision fp32 --model "$(ckpt "$m")" $(se_flag "$m") --lengths "$len" \
      --stride $((len / PPL_STRIDE_DIV)) --corpus "$D/corpus" --split test --source "$src" \
      --documents "$PPL_DOCS" --out "$o" --name "$m" || return $?
  done
}
eval_niah() {

  "$harpe" eval niah --precision fp32 --model "$(ckpt "$1")" $(se_flag "$1") --tasks "$NIAH_TASKS" --lengths "$niah_csv" \
    -n "$NIAH_SAMPLES" --jobs "$jobs" $(ttg_flag) $(haystack_flag) --out "$out/eval/$1/niah" --name "$1"
}
eval_needle() {

  "$harpe" eval needle --precision fp32 --model "$(ckpt "$1")" $(se_flag "$1") --lengths "$niah_csv" \
    --depth-count "$NEEDLE_DEPTHS" -n "$NEEDLE_SAMPLES" --jobs "$jobs" $(ttg_flag) --out "$out/eval/$1/needle" --name "$1"
}
eval_short() {

  "$harpe" eval short --precision fp32 --model "$(ckpt "$1")" $(se_flag "$1") --context "$C0" --corpus "$D/corpus" \
    --stride $((C0 / PPL_STRIDE_DIV)) \
    --documents "$PPL_DOCS" -n "$NIAH_SAMPLES" --jobs "$jobs" $(haystack_flag) \
    --out "$out/eval-short/$1" --name "$1"
}
gen() {

  "$harpe" generate --precision fp32 --model "$(ckpt "$1")" $(se_flag "$1") --prompt "And God said" -n 32 \
    >"$out/eval/$1/generate.txt" && cat "$out/eval/$1/generate.txt"
}

# One results.json per model: the tasks, needle grid and perplexities of its eval parts (jq).
merge() {
  local m="$1"
  local dst="$out/results/$m" files=()
  mkdir -p "$dst"
  for f in "$out/eval/$m"/*/results.json; do [[ -f "$f" ]] && files+=("$f"); done
  ((${#files[@]})) || { echo "merge $m: no results" >&2; return 1; }
  jq -s --arg name "$m" '{schema: "harpe.eval.v1", name: $name,
      meta: (map(.meta // {}) | add),
      tasks: (map(.tasks // []) | add),
      ppl: (map(.ppl // []) | add)}
    + (map(select(.needle != null) | {needle: .needle}) | add // {})' "${files[@]}" >"$dst/results.json.tmp"
  mv "$dst/results.json.tmp" "$dst/results.json"
  if [[ -d "$out/eval/$m/needle" ]]; then
    cp -f "$out/eval/$m/needle"/*.svg "$out/eval/$m/needle"/*.png "$dst/" 2>/dev/null || true
  fi
}

for m in "${models[@]}"; do
  mkdir -p "$out/eval/$m"
  step "ppl-pari-$m" eval_ppl "$m" pari
  step "ppl-bible-$m" eval_ppl "$m" bible
  step "niah-$m" eval_niah "$m"
  ((NEEDLE)) && step "needle-$m" eval_needle "$m"
  ((SHORT)) && step "short-$m" eval_short "$m"
  ((GENERATE)) && step "generate-$m" gen "$m"
  ((dry)) || merge "$m" || true
done

# ---------------------------------------------------------------------------------------------
report() {
  local runs=()
  for m in "${models[@]}"; do [[ -f "$out/results/$m/results.json" ]] && runs+=("$out/results/$m"); done
  if ((${#runs[@]} == 0)); then echo "report: no evaluation results yet (all eval steps failed?)" >&2; return 1; fi
  "$harpe" report "${runs[@]}" --out "$out/report" | tee "$out/report/comparison.stdout.md" >/dev/null || return $?
  if ((SHORT)); then
    runs=()
    for m in "${models[@]}"; do [[ -f "$out/eval-short/$m/results.json" ]] && runs+=("$out/eval-short/$m"); done
    ((${#runs[@]})) && "$harpe" report "${runs[@]}" --out "$out/report/short" >/dev/null
  fi
  return 0
}
rm -f "$out/.done/report"  # the report always reflects the runs present now
mkdir -p "$out/report"
step report report
((dry)) || cat "$out/report/comparison.md"
# The paper's tables (3, 4, 5, 6, 8) side by side: RUN_DIR/report/tables.md.
((dry)) || bash "$ROOT/scripts/results_tables.sh" "$out" >"$out/report/tables.md" || true

log "timings ($timings):"
column -t -s $'\t' "$timings" 2>/dev/null || cat "$timings"
if ((${#failed[@]})); then echo "reproduce: failed steps: ${failed[*]} (rerun to retry them)" >&2; exit 1; fi
log "done: $out/report/comparison.html"
