#!/usr/bin/env bash
# Prints the analogues of the paper's Tables 3, 4, 5, 6 and 8 (markdown) from a finished
# `scripts/reproduce.sh` run: RUN_DIR/results/<model>/results.json (one per model, merged by the
# script from the `harpe eval` outputs).
#
# Usage: scripts/results_tables.sh RUN_DIR [MODEL ...]
#   default models: base self-extend pi abf abf3 yarn harpe-pv harpe-uni harpe-desc (those present)
set -euo pipefail
run="${1:?usage: scripts/results_tables.sh RUN_DIR [MODEL ...]}"
shift
[[ -d "$run/results" ]] || { echo "results_tables: $run/results: no such directory (run scripts/reproduce.sh first)" >&2; exit 2; }
models=("$@")
if ((${#models[@]} == 0)); then
  for m in base self-extend pi abf abf3 yarn harpe-pv harpe-uni harpe-desc \
           harpe-pv-s10k harpe-pv-s20k harpe-pv-s30k harpe-pv-s40k harpe-pv-s50k; do
    [[ -f "$run/results/$m/results.json" ]] && models+=("$m")
  done
fi
((${#models[@]})) || { echo "results_tables: no results under $run/results" >&2; exit 1; }
R() { echo "$run/results/$1/results.json"; }
# Two decimals for non-negative numbers (jq has no printf).
F2='def f2: (. * 100 | round) as $x | ($x / 100 | floor | tostring) + "." + ($x % 100 | tostring | if length == 1 then "0" + . else . end);'


label() {
  case "$1" in
    base) echo "base (C0, no extension)" ;;
    self-extend) echo "Self-Extend (base, no training)" ;;
    pi) echo "PI" ;;
    abf) echo "ABF single-stage" ;;
    abf3) echo "ABF 3-stage" ;;
    yarn) echo "YaRN" ;;
    harpe-pv) echo "**HARPE** (peak-valley)" ;;
    harpe-uni) echo "HARPE uniform ascending" ;;
    harpe-desc) echo "HARPE uniform descending" ;;
    harpe-pv-s*) echo "HARPE peak-valley, stride ~ paper's ${1#harpe-pv-s}" ;;
    *) echo "$1" ;;
  esac
}

# Windows and NIAH lengths present in the first model that has them.
windows="$(jq -r "$F2"'[.ppl[].window] | unique | map(tostring) | join(" ")' "$(R "${models[0]}")")"
lengths="$(for m in "${models[@]}"; do jq -r "$F2"'[.tasks[].length] | unique | map(tostring) | join(" ")' "$(R "$m")"; done | sort | tail -1)"
tasks="$(for m in "${models[@]}"; do jq -r '.tasks[].task' "$(R "$m")"; done | sort -u | tr '\n' ' ' | sed 's/ $//')"

fmt_len() { awk -v n="$1" 'BEGIN { if (n >= 1024 && n % 1024 == 0) printf "%dK", n / 1024; else printf "%d", n }'; }
header() {  # title cells...
  local line="| $1 |" sep="| --- |"; shift
  for c in "$@"; do line+=" $c |"; sep+=" ---: |"; done
  echo "$line"; echo "$sep"
}

ppl_cell() {  # model source window
  jq -r --arg d "corpus-test-$2" --argjson w "$3" \
    "$F2"'[.ppl[] | select(.dataset == $d and .window == $w) | .ppl][0] // "-" | if type == "number" then f2 else . end' "$(R "$1")"
}
niah_cell() {  # model length -> mean over tasks
  jq -r --argjson l "$2" "$F2"'[.tasks[] | select(.length == $l) | .score] |
      if length == 0 then "-" else (add / length | f2) end' "$(R "$1")"
}
word_cell() {  # model length field -> mean over tasks of a partial-credit field ("-" if absent)
  jq -r --argjson l "$2" --arg f "$3" "$F2"'[.tasks[] | select(.length == $l) | .[$f] | select(. != null)] |
      if length == 0 then "-" else (add / length | f2) end' "$(R "$1")"
}
niah_avg() {
  jq -r "$F2"'[.tasks[] | .score] | if length == 0 then "-" else (add / length | f2) end' "$(R "$1")"
}
task_cell() {  # model task [length] -> mean over lengths (or at one length)
  jq -r --arg t "$2" --arg l "${3:-}" "$F2"'[.tasks[] | select(.task == $t and ($l == "" or (.length | tostring) == $l)) | .score] |
      if length == 0 then "-" else (add / length | f2) end' "$(R "$1")"
}
needle_avg() {
  jq -r "$F2"'if .needle then (.needle.average | f2) else "-" end' "$(R "$1")"
}

cols=(); for w in $windows; do cols+=("$(fmt_len "$w")"); done
for src in pari bible; do
  kind=$([[ $src == pari ]] && echo "math/TeX, the proof-pile analogue" || echo "prose, the PG19 analogue")
  echo "### Table 3 analogue: sliding-window perplexity, $src ($kind)"
  echo
  header "method" "${cols[@]}"
  for m in "${models[@]}"; do
    row="| $(label "$m") |"
    for w in $windows; do row+=" $(ppl_cell "$m" "$src" "$w") |"; done
    echo "$row"
  done
  echo
done

lcols=(); for l in $lengths; do lcols+=("$(fmt_len "$l")"); done
if [[ "$tasks" == passkey ]]; then
  echo "### Table 4 analogue: passkey retrieval, string match (0-100)"
else
  echo "### Table 4 analogue: NIAH, mean string_match_all over the $(echo "$tasks" | wc -w) tasks (0-100)"
fi
echo
header "method" "${lcols[@]}" "avg" "needle grid avg"
for m in "${models[@]}"; do
  row="| $(label "$m") |"
  for l in $lengths; do row+=" $(niah_cell "$m" "$l") |"; done
  row+=" $(niah_avg "$m") | $(needle_avg "$m") |"
  echo "$row"
done
echo
# Partial credit (harpe's word_match, docs/eval.md), with its baseline in brackets: the same outputs
# scored against another sample's answer. Results from before word_score: `harpe report --rescore`.
if [[ "$(jq -r '[.tasks[] | .word_score | select(. != null)] | length' "$(R "${models[0]}")")" != 0 ]]; then
  echo "### Table 4, partial credit: words of the answer in place (word_match, 0-100; in brackets the same outputs against another sample's answer)"
  echo
  header "method" "${lcols[@]}"
  for m in "${models[@]}"; do
    row="| $(label "$m") |"
    for l in $lengths; do row+=" $(word_cell "$m" "$l" word_score) ($(word_cell "$m" "$l" word_baseline)) |"; done
    echo "$row"
  done
  echo
fi
# A length too short for a task's prompt (plus the generation budget) has no cell for that task.
fit="$(jq -r '[.tasks[] | .length] | group_by(.) | map("\(.[0]): \(length)") | join(", ")' "$(R "${models[0]}")")"
echo "Tasks per length (a task whose prompt cannot fit a length is left out there): $fit of $(echo "$tasks" | wc -w)."
echo

first_w="${windows%% *}"
echo "### Table 5 analogue: short-context retention (perplexity at window C0 = $first_w; lower is better)"
echo
header "method" "pari" "bible" "pari vs base" "bible vs base"
bp="$(ppl_cell base pari "$first_w" 2>/dev/null || echo -)"; bb="$(ppl_cell base bible "$first_w" 2>/dev/null || echo -)"
for m in "${models[@]}"; do
  p="$(ppl_cell "$m" pari "$first_w")"; b="$(ppl_cell "$m" bible "$first_w")"
  rel() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%+.1f%%", (a / b - 1) * 100 }'; }
  echo "| $(label "$m") | $p | $b | $(rel "$p" "$bp") | $(rel "$b" "$bb") |"
done
echo

last_w="${windows##* }"
echo "### Table 6 analogue: HARPE base schemes"
echo
header "bases" "pari ppl @$(fmt_len "$last_w")" "bible ppl @$(fmt_len "$last_w")" "NIAH avg" "needle avg"
for m in harpe-uni harpe-desc harpe-pv; do
  [[ -f "$(R "$m")" ]] || continue
  echo "| $(label "$m") | $(ppl_cell "$m" pari "$last_w") | $(ppl_cell "$m" bible "$last_w") | $(niah_avg "$m") | $(needle_avg "$m") |"
done
echo

last_l="${lengths##* }"
echo "### Table 8 analogue: NIAH per task, mean over lengths $(echo "$lengths" | tr ' ' '/') (and at $(fmt_len "$last_l") in brackets)"
echo
tcols=(); for t in $tasks; do tcols+=("${t#niah_}"); done
header "method" "${tcols[@]}"
for m in "${models[@]}"; do
  row="| $(label "$m") |"
  for t in $tasks; do row+=" $(task_cell "$m" "$t") ($(task_cell "$m" "$t" "$last_l")) |"; done
  echo "$row"
done

# Table 7 analogue (peak-valley stride ablation, the `full` preset), when those runs exist.
strides=()
for m in harpe-pv harpe-pv-s10k harpe-pv-s20k harpe-pv-s30k harpe-pv-s40k harpe-pv-s50k; do
  [[ -f "$(R "$m")" ]] && [[ " ${models[*]} " == *" $m "* ]] && strides+=("$m")
done
if ((${#strides[@]} > 1)); then
  echo
  echo "### Table 7 analogue: HARPE peak-valley stride (the paper's 10k..50k mapped onto this run's base range)"
  echo
  header "run" "pari ppl @$(fmt_len "$last_w")" "bible ppl @$(fmt_len "$last_w")" "NIAH avg" "NIAH @$(fmt_len "$last_l")" "needle avg"
  for m in "${strides[@]}"; do
    echo "| $(label "$m") | $(ppl_cell "$m" pari "$last_w") | $(ppl_cell "$m" bible "$last_w") | $(niah_avg "$m") | $(niah_cell "$m" "$last_l") | $(needle_avg "$m") |"
  done
fi
