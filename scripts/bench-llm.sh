#!/usr/bin/env bash
# Local-engine benchmark: sous (pure Swift) against llama2.c's run.c on the same shapes.
#
#   scripts/bench-llm.sh            # stories260K (if ../shared/models is present), 15M and 110M, f32 and bf16, 1 and 2 threads
#   BENCH_SHAPES="15M" scripts/bench-llm.sh
#
# Environment:
#   BENCH_DIR     where generated checkpoints go (default /tmp/sous-bench; reused when present)
#   BENCH_SHAPES  space-separated subset of "260K 15M 110M" (default all)
#   BENCH_THREADS thread counts (default "1 2")
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
swift build -c release --scratch-path .build-release --product sous ${SOUS_BUILD_FLAGS:-} 2>&1 | tail -1
SOUS=$ROOT/.build-release/release/sous

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

# Best of 3 run.c runs (tok/s printed on stderr as "achieved tok/s: X").
peer_toks() { # bin tokenizer threads steps
  local best=0 v
  for _ in 1 2 3; do
    v=$(OMP_NUM_THREADS=$3 "$PEER" "$1" -z "$2" -t 0 -n "$4" 2>&1 >/dev/null | sed -n 's/achieved tok\/s: //p')
    best=$(awk -v a="$best" -v b="${v:-0}" 'BEGIN { print (b > a ? b : a) }')
  done
  echo "$best"
}

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
      json=$("$SOUS" generate --model "$dir" --bench --threads "$t" --bench-prompt-tokens 128 --bench-tokens 256 --json)
      read -r pre dec gbs < <(echo "$json" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print(r["prefillTokensPerSecond"], r["decodeTokensPerSecond"], r["weightBandwidthGBs"])')
      peer="-"; ratio="-"
      if [[ -n "$PEER" ]]; then
        peer=$(peer_toks "$bin" "$tok" "$t" 256)
        ratio=$(awk -v a="$dec" -v b="$peer" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
      fi
      printf "%-12s %-5s %3s %12.1f %12.1f %10.1f %12s %8s\n" "$(basename "$dir")" "$dtype" "$t" "$pre" "$dec" "$gbs" "$peer" "$ratio"
    done
  done
done
echo
echo "decode = greedy tokens/s from BOS over 256 positions (sous: best of 3; run.c: best of 3, -t 0 -n 256)."
echo "ratio = sous decode / run.c (run.c always runs the f32 weights). The CPU is shared: figures are noisy."
