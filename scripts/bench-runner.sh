#!/usr/bin/env bash
# Runner benchmark: a recipe whose steps take a 2 GB folder of 1,000 files as input.
# Prints the first run's time and the fully cached rerun's time (plan + run), and checks with
# strace that the cached rerun opens none of the input files (stat only, no content reads).
# Usage: scripts/bench-runner.sh [SIZE_MB=2048] [FILES=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-2048}
FILES=${2:-1000}
scripts/bootstrap.sh
command -v strace >/dev/null || { apt-get install -y -qq strace >/dev/null 2>&1 || true; }
source scripts/lib/release.sh  # SOUS_BIN: the shared release build
SOUS=$SOUS_BIN
WORK=$(mktemp -d /tmp/sous-bench-runner.XXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/data"
per=$(( SIZE_MB * 1024 / FILES ))   # KiB per file
python3 - "$WORK/data" "$FILES" "$per" <<'PY'
import os, sys
root, n, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
block = os.urandom(1 << 20)
for i in range(n):
    d = os.path.join(root, f"shard-{i // 100:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"part-{i:04d}.bin"), "wb") as f:
        left = kib * 1024
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)
PY
cat > "$WORK/bench.yaml" <<YAML
name: bench
steps:
  - id: manifest
    uses: shell
    with:
      command: "find '$WORK/data' -type f | sort > manifest.txt"
      sources: ["$WORK/data"]
      generates: [manifest.txt]
  - id: pack
    uses: archive.tar
    with:
      source: "$WORK/data"
      output: data.tar
  - id: props
    uses: file.write
    with:
      path: serving.properties
      properties: {engine: MPI, option.files: "\${{ steps.pack.outputs.files }}"}
YAML
cd "$WORK"
now() { date +%s.%N; }
t0=$(now); "$SOUS" run bench.yaml --yes --quiet; t1=$(now)
# Cached rerun: plan, then run.
t2=$(now); "$SOUS" plan bench.yaml >/dev/null; t3=$(now); "$SOUS" run bench.yaml --yes --quiet; t4=$(now)
opened="n/a"
if command -v strace >/dev/null; then
  strace -f -qq -e trace=openat,open -o "$WORK/trace" "$SOUS" run bench.yaml --yes --quiet || true
  opened=$(grep -E "$WORK/data/shard-[0-9]+/part-" "$WORK/trace" | grep -vc ENOENT || true)
fi
python3 - "$t0" "$t1" "$t2" "$t3" "$t4" "$opened" "$SIZE_MB" "$FILES" <<'PY'
import sys
t0, t1, t2, t3, t4 = map(float, sys.argv[1:6])
opened, size, files = sys.argv[6], sys.argv[7], sys.argv[8]
first, plan, run = t1 - t0, (t3 - t2) * 1000, (t4 - t3) * 1000
print(f"input: {size} MB in {files} files")
print(f"first run (hash + pack): {first:.2f} s")
print(f"cached rerun: plan {plan:.1f} ms + run {run:.1f} ms = {plan + run:.1f} ms (goal < 100 ms)")
print(f"input files opened by the cached rerun: {opened} (goal 0: stat only)")
print(f"ratio first/cached: {first * 1000 / (plan + run):.0f}x")
PY
