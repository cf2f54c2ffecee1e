#!/usr/bin/env bash
# Llama runtime benchmark: sous (pure Swift) against llama2.c's run.c on the same shapes, and sous's weight
# reads against the machine's memory bandwidth.
#
#   scripts/bench-llm.sh            # stories260K (if ../shared/models is present), 15M and 110M, f32 and bf16, 1 and 2 threads
#   BENCH_SHAPES="15M" scripts/bench-llm.sh
#
# Environment:
#   BENCH_DIR     where generated checkpoints go (default /tmp/sous-bench; reused when present)
#   BENCH_SHAPES  space-separated subset of "260K 15M 110M" (default all)
#   BENCH_THREADS thread counts (default "1 2")
#   BENCH_REPS    interleaved sous/run.c/bandwidth repetitions per row, best of each kept (default 5)
#   BENCH_GOAL_RATIO  sous/run.c decode ratio every row must reach (default 1.2)
#   BENCH_GOAL_MEM    fraction of the memory bandwidth the 110M rows must read weights at (default 0.7)
#   SOUS_BUILD_FLAGS extra `swift build` flags, e.g. "-Xswiftc -target-cpu -Xswiftc haswell" (AVX2; not the default)
#   SOUS_BIN      a sous binary to measure instead of the shared release build .build/release/sous
#                 (scripts/lib/release.sh; e.g. an older build, for a before/after table)
#   RUNC          path to llama2.c's run.c (default /work/peers/run.c). It is NOT part of this repository:
#                 fetch karpathy/llama2.c run.c yourself; without it only sous is measured.
# run.c is built as llama2.c's Makefile builds it for speed, plus -march=native: `runomp`'s flags
# (gcc -Ofast -fopenmp -march=native, OMP_NUM_THREADS = the row's threads) for the multi-thread rows, and
# without OpenMP (`runfast`'s -Ofast, with -march=native) for the one-thread rows: with OMP_NUM_THREADS=1 the
# OpenMP build took ~6 % (15M) to ~50 % (stories260K) more CPU time for a 256-token run (perf stat, Dec 2026).
# Checkpoints are random weights (numpy, Tests/python/llm_make_model.py) with llama2.c's shapes
# (tied embeddings, vocab 32000); run.c gets the same f32 weights as a llama2.c .bin file.
# The memory bandwidth is measured in the same repetitions by a C kernel built here with gcc: 1 or 2 threads
# sum a 1 GiB buffer on huge pages (far larger than the last-level cache) with 32-byte vector loads, each
# thread reading its share as one stream and as four streams; the best of 6 passes counts.
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
command -v gcc >/dev/null || { echo "!! gcc is needed (memory bandwidth kernel and run.c)"; exit 1; }

source scripts/lib/release.sh  # SOUS_BIN: the shared release build (or the one given)
SOUS=$SOUS_BIN

PEER=""
if [[ -f "$RUNC" ]]; then
  if gcc -Ofast -fopenmp -march=native "$RUNC" -lm -o "$BENCH_DIR/run" 2>"$BENCH_DIR/run.log" &&
    gcc -Ofast -march=native "$RUNC" -lm -o "$BENCH_DIR/run1" 2>>"$BENCH_DIR/run.log"; then
    PEER="$BENCH_DIR/run"
  else
    echo "!! peer unavailable: compiling $RUNC failed (see $BENCH_DIR/run.log)"
  fi
else
  echo "!! peer unavailable: llama2.c run.c not found at $RUNC (set RUNC=...); measuring sous only"
fi

cat >"$BENCH_DIR/membw.c" <<'C'
#define _GNU_SOURCE
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
typedef uint64_t v4 __attribute__((vector_size(32)));
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
// Sums n vectors as one sequential stream.
static v4 read1(const v4 *p, size_t n) {
    v4 a = {0}, b = {0};
    for (size_t i = 0; i < n; i += 2) { a += p[i]; b += p[i + 1]; }
    return a + b;
}
// Sums n vectors as four streams a quarter apart, one 64-byte line of each at a time (sous's matmul order).
static v4 read4(const v4 *p, size_t n) {
    size_t q = n / 4;
    v4 a = {0}, b = {0}, c = {0}, d = {0};
    for (size_t i = 0; i < q; i += 2) {
        a += p[i] + p[i + 1]; b += p[q + i] + p[q + i + 1];
        c += p[2 * q + i] + p[2 * q + i + 1]; d += p[3 * q + i] + p[3 * q + i + 1];
    }
    return a + b + c + d;
}
int main(void) {
    size_t bytes = (size_t)1 << 30, n = bytes / sizeof(v4);
    v4 *buf;
    uint64_t sink = 0;
    if (posix_memalign((void **)&buf, 2 << 20, bytes)) return 1;
    madvise(buf, bytes, MADV_HUGEPAGE);
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) buf[i] = (v4){i, i, i, i};
    double best = 0;
    for (int pass = 0; pass < 6; pass++) {
        double t0 = now();
        uint64_t total = 0;
        #pragma omp parallel reduction(+:total)
        {
            size_t per = n / omp_get_num_threads();
            const v4 *p = buf + per * omp_get_thread_num();
            v4 s = pass % 2 ? read4(p, per) : read1(p, per);
            total += s[0] + s[1] + s[2] + s[3];
        }
        double dt = now() - t0;
        sink += total;
        if (bytes / dt > best) best = bytes / dt;
    }
    printf("%.1f\n", best / 1e9);
    return sink == 42;
}
C
gcc -O3 -march=native -fopenmp "$BENCH_DIR/membw.c" -o "$BENCH_DIR/membw"
membw() { OMP_NUM_THREADS=$1 "$BENCH_DIR/membw"; }

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

# One run.c run: decode tok/s (printed on stderr as "achieved tok/s: X"); the build without OpenMP on one thread.
peer_once() { # bin tokenizer threads steps
  local run=$PEER
  [[ "$3" == 1 ]] && run=$BENCH_DIR/run1
  OMP_NUM_THREADS=$3 "$run" "$1" -z "$2" -t 0 -n "$4" 2>&1 >/dev/null | sed -n 's/achieved tok\/s: //p'
}
max() { awk -v a="$1" -v b="${2:-0}" 'BEGIN { print (b > a ? b : a) }'; }

REPS=${BENCH_REPS:-5}
GOAL_RATIO=${BENCH_GOAL_RATIO:-1.2}
GOAL_MEM=${BENCH_GOAL_MEM:-0.7}
rows=0; wins=0; losses=""; memRows=0; memWins=0; memLosses=""
printf "\n%-12s %-5s %3s %11s %10s %7s %8s %6s %10s %7s\n" model dtype thr "prefill t/s" "decode t/s" "GB/s" "mem GB/s" "of mem" "run.c t/s" "ratio"
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
      # Interleaved: each repetition runs sous, run.c and the bandwidth kernel once; the best of each is kept,
      # so all three sample the same stretch of (shared, noisy) machine time.
      pre=0; dec=0; gbs=0; peer=0; mem=0
      for _ in $(seq "$REPS"); do
        json=$("$SOUS" bench llm --model "$dir" --threads "$t" --prompt-tokens 128 --tokens 256 --repeats 1 --json)
        read -r p d g < <(echo "$json" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print(r["prefillTokensPerSecond"], r["decodeTokensPerSecond"], r["weightBandwidthGBs"])')
        pre=$(max "$pre" "$p"); gbs=$(max "$gbs" "$g"); dec=$(max "$dec" "$d")
        if [[ -n "$PEER" ]]; then peer=$(max "$peer" "$(peer_once "$bin" "$tok" "$t" 256)"); fi
        mem=$(max "$mem" "$(membw "$t")")
      done
      frac=$(awk -v a="$gbs" -v b="$mem" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
      if [[ "$shape" == 110M ]]; then
        memRows=$((memRows + 1))
        if awk -v a="$gbs" -v b="$mem" -v g="$GOAL_MEM" 'BEGIN { exit !(a >= g * b) }'; then memWins=$((memWins + 1)); else memLosses="$memLosses $(basename "$dir")/${t}t"; fi
      fi
      ratio="-"; peerText="-"
      if [[ -n "$PEER" ]]; then
        peerText=$(printf "%.1f" "$peer")
        ratio=$(awk -v a="$dec" -v b="$peer" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
        rows=$((rows + 1))
        if awk -v a="$dec" -v b="$peer" -v g="$GOAL_RATIO" 'BEGIN { exit !(a >= g * b) }'; then wins=$((wins + 1)); else losses="$losses $(basename "$dir")/${t}t"; fi
      fi
      printf "%-12s %-5s %3s %11.1f %10.1f %7.1f %8.1f %6s %10s %7s\n" "$(basename "$dir")" "$dtype" "$t" "$pre" "$dec" "$gbs" "$mem" "$frac" "$peerText" "$ratio"
    done
  done
done
echo
echo "decode = greedy tokens/s from BOS over 256 positions; prefill = a 128-token prompt."
echo "sous, run.c (-t 0 -n 256) and the bandwidth kernel alternate, $REPS runs each per row; the best of each is shown."
echo "run.c: gcc -Ofast -march=native, with -fopenmp and OMP_NUM_THREADS on the rows with more than one thread."
echo "GB/s = sous's weight bytes per token x decode tok/s; mem GB/s = the machine's streaming-read bandwidth with the"
echo "row's thread count; of mem = GB/s / mem GB/s (above 1 when part of the weights stays in the last-level cache)."
echo "ratio = sous decode / run.c decode (run.c always runs the f32 weights). The CPU is shared: figures are noisy."
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
if [[ -z "$PEER" ]]; then
  echo "goal not checked: run.c unavailable"
elif [[ $wins -eq $rows ]]; then
  echo "goal met: sous decode is at least ${GOAL_RATIO}x run.c's on all $rows rows"
else
  echo "goal not met: sous decode is at least ${GOAL_RATIO}x run.c's on $wins of $rows rows (below:$losses)"
fi
if [[ $memRows -gt 0 ]]; then
  if [[ $memWins -eq $memRows ]]; then
    echo "goal met: 110M reads its weights at ${GOAL_MEM} of the memory bandwidth or more on all $memRows rows"
  else
    echo "goal not met: 110M reads its weights at ${GOAL_MEM} of the memory bandwidth on $memWins of $memRows rows (below:$memLosses)"
  fi
fi
