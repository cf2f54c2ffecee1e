#!/usr/bin/env bash
# Llama runtime benchmark: sous (pure Swift) against llama2.c's run.c on the same shapes.
#
#   scripts/bench-llm.sh            # stories260K (if ../shared/models is present), 15M and 110M, f32 and bf16, 1 and 2 threads
#   BENCH_SHAPES="15M" scripts/bench-llm.sh
#
# Environment:
#   BENCH_DIR     where generated checkpoints go (default /tmp/sous-bench; reused when present)
#   BENCH_SHAPES  space-separated subset of "260K 15M 110M" (default all)
#   BENCH_THREADS thread counts (default "1 2")
#   BENCH_REPS    interleaved sous/run.c repetitions per row, best of each kept (default 5)
#   SOUS_BUILD_FLAGS extra `swift build` flags, e.g. "-Xswiftc -target-cpu -Xswiftc haswell" (AVX2; not the default)
#   RUNC          path to llama2.c's run.c (default /work/peers/run.c). It is NOT part of this repository:
#                 fetch karpathy/llama2.c run.c yourself; without it only sous is measured.
# Checkpoints are random weights (numpy, Tests/python/llm_make_model.py) with llama2.c's shapes
# (tied embeddings, vocab 32000); run.c gets the same f32 weights as a llama2.c .bin file.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/sous-bench}
BENCH_SHAPES=${BENCH_SHAPES:-"260K 15M 110M"}
BENCH_THREADS=${BENCH_THREADS:-"1 2"}
RUNC=${RUNC:-/work/peers/run.c}
PY=${SOUS_PYTHON:-python3}
SHARED=${SOUS_SHARED_DIR:-$ROOT/../shared}
mkdir -p "$BENCH_DIR"

echo "== building sous (release)"
# shellcheck disable=SC2086
swift build -c release --product sous ${SOUS_BUILD_FLAGS:-} 2>&1 | tail -1
SOUS=$ROOT/.build/release/sous

PEER=""
if [[ -f "$RUNC" ]] && command -v gcc >/dev/null; then
  if gcc -Ofast -fopenmp -march=native "$RUNC" -lm -o "$BENCH_DIR/run" 2>"$BENCH_DIR/run.log"; then
    PEER="$BENCH_DIR/run"
  else
    echo "!! peer unavailable: compiling $RUNC failed (see $BENCH_DIR/run.log)"
  fi
else
  echo "!! peer unavailable: llama2.c run.c not found at $RUNC (set RUNC=...) or gcc missing; measuring sous only"
fi

make_ckpt() { # name shape dtype
  local dir="$BENCH_DIR/$1"
  [[ -f "$dir/config.json" ]] && return
  echo "== generating $1"
  if [[ "$3" == f32 ]]; then
    "$PY" Tests/python/llm_make_model.py "$dir" --shape "$2" --tie --llama2c "$dir/model.bin"
  else
    "$PY" Tests/python/llm_make_model.py "$dir" --shape "$2" --tie --dtype "$3"
  fi
}

# One run.c run: decode tok/s (printed on stderr as "achieved tok/s: X").
peer_once() { # bin tokenizer threads steps
  OMP_NUM_THREADS=$3 "$PEER" "$1" -z "$2" -t 0 -n "$4" 2>&1 >/dev/null | sed -n 's/achieved tok\/s: //p'
}
max() { awk -v a="$1" -v b="${2:-0}" 'BEGIN { print (b > a ? b : a) }'; }

REPS=${BENCH_REPS:-5}
rows=0; wins=0; losses=""
printf "\n%-12s %-5s %3s %12s %12s %10s %12s %8s\n" model dtype thr "prefill t/s" "decode t/s" "GB/s" "run.c t/s" "ratio"
for shape in $BENCH_SHAPES; do
  models=()
  if [[ "$shape" == 260K ]]; then
    if [[ -d "$SHARED/models/stories260K-hf" ]]; then models=("$SHARED/models/stories260K-hf|f32|$SHARED/models/stories260K.bin|$SHARED/models/tok512.bin"); else
      echo "!! stories260K skipped: $SHARED/models/stories260K-hf is absent"; fi
  else
    make_ckpt "$shape-f32" "$shape" f32
    make_ckpt "$shape-bf16" "$shape" bf16
    models=("$BENCH_DIR/$shape-f32|f32|$BENCH_DIR/$shape-f32/model.bin|$BENCH_DIR/$shape-f32/tokenizer.bin"
            "$BENCH_DIR/$shape-bf16|bf16|$BENCH_DIR/$shape-f32/model.bin|$BENCH_DIR/$shape-f32/tokenizer.bin")
  fi
  for entry in "${models[@]}"; do
    IFS='|' read -r dir dtype bin tok <<<"$entry"
    for t in $BENCH_THREADS; do
      # Interleaved: each repetition runs sous once, then run.c once; the best of each is kept, so both
      # sample the same stretch of (shared, noisy) machine time.
      pre=0; dec=0; gbs=0; peer=0
      for _ in $(seq "$REPS"); do
        json=$("$SOUS" bench llm --model "$dir" --threads "$t" --prompt-tokens 128 --tokens 256 --repeats 1 --json)
        read -r p d g < <(echo "$json" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print(r["prefillTokensPerSecond"], r["decodeTokensPerSecond"], r["weightBandwidthGBs"])')
        pre=$(max "$pre" "$p"); gbs=$(max "$gbs" "$g"); dec=$(max "$dec" "$d")
        if [[ -n "$PEER" ]]; then peer=$(max "$peer" "$(peer_once "$bin" "$tok" "$t" 256)"); fi
      done
      ratio="-"; peerText="-"
      if [[ -n "$PEER" ]]; then
        peerText=$(printf "%.1f" "$peer")
        ratio=$(awk -v a="$dec" -v b="$peer" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
        rows=$((rows + 1))
        if awk -v a="$dec" -v b="$peer" 'BEGIN { exit !(a > b) }'; then wins=$((wins + 1)); else losses="$losses $(basename "$dir")/${t}t"; fi
      fi
      printf "%-12s %-5s %3s %12.1f %12.1f %10.1f %12s %8s\n" "$(basename "$dir")" "$dtype" "$t" "$pre" "$dec" "$gbs" "$peerText" "$ratio"
    done
  done
done
echo
echo "decode = greedy tokens/s from BOS over 256 positions; prefill = a 128-token prompt."
echo "sous and run.c (-t 0 -n 256) alternate, $REPS runs each per row; the best of each is shown."
echo "ratio = sous decode / run.c decode (run.c always runs the f32 weights). The CPU is shared: figures are noisy."
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
if [[ -z "$PEER" ]]; then
  echo "goal not checked: run.c unavailable"
elif [[ $wins -eq $rows ]]; then
  echo "goal met: sous decode is faster than run.c on all $rows rows"
else
  echo "goal not met: sous decode is faster than run.c on $wins of $rows rows (slower:$losses)"
fi
