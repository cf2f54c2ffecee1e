#!/usr/bin/env bash
# Benchmark: uploading a ~2 GiB folder to S3 with sous (`sous run` of a one-step s3.upload recipe),
# `aws s3 cp --recursive` (AWS CLI) and boto3's upload_file (one call per file, as
# sagemaker.Session.upload_data does), all to the same loopback S3 server: the sous local cloud (default,
# SigV4 checked) or moto (SOUS_BENCH_S3=moto, no signature check).
#
# Usage: scripts/bench-s3.sh [BIG_FILES] [BIG_MIB] [SMALL_FILES] [SMALL_KIB]   (default 3 x 640 MiB + 400 x 256 KiB)
# Env:   SOUS_BIN (default .build/release/sous, built with
#        `swift build -c release --product sous` if absent), PYTHON (python3),
#        SOUS_BENCH_S3 (local | moto), BENCH_REPS (rounds, default 3), SOUS_BENCH_WARM_GIB (default 3; 0 = off)
# sous and the AWS CLI run BENCH_REPS (default 3) rounds, alternating, and the fastest round of each is kept
# (boto3 runs once). Prints wall time, throughput, peak RSS
# (/usr/bin/time -v) and CPU seconds of each client and of the server while it served that client, and the
# ratios. Client and server share the machine's cores, so the server's cost is part of every tool's time.
# The data is generated in /tmp and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIG=${1:-3}
BIG_MIB=${2:-640}
SMALL=${3:-400}
SMALL_KIB=${4:-256}
PYTHON=${PYTHON:-python3}
SOUS_BIN=${SOUS_BIN:-.build/release/sous}
if [[ ! -x "$SOUS_BIN" ]]; then
  swift build -c release --product sous
fi
SOUS_BIN=$(cd "$(dirname "$SOUS_BIN")" && pwd)/$(basename "$SOUS_BIN")

WORK=$(mktemp -d /tmp/sous-bench-s3.XXXXXX)
MOTO_PID=
LOCAL_WS=
cleanup() {
  [[ -n "$MOTO_PID" ]] && kill "$MOTO_PID" 2>/dev/null
  [[ -n "$LOCAL_WS" ]] && "$SOUS_BIN" local stop --workspace "$LOCAL_WS" > /dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "generating $BIG x $BIG_MIB MiB + $SMALL x $SMALL_KIB KiB in $WORK/data …"
mkdir -p "$WORK/data/weights" "$WORK/data/small"
for i in $(seq 1 "$BIG"); do
  head -c $((BIG_MIB << 20)) /dev/urandom > "$WORK/data/weights/model-$i.safetensors"
done
for i in $(seq 1 "$SMALL"); do
  head -c $((SMALL_KIB << 10)) /dev/urandom > "$WORK/data/small/file-$i.bin"
done
# Flush the generated data to disk and read it once, so every tool starts from the same page cache
# (otherwise the first tool competes with the kernel writing 2 GiB back).
sync
cat "$WORK"/data/weights/* "$WORK"/data/small/* > /dev/null
TOTAL_BYTES=$(du -sb "$WORK/data" | awk '{print $1}')
FILES=$((BIG + SMALL))

SERVER=${SOUS_BENCH_S3:-local}
if [[ "$SERVER" == moto ]]; then
  "$PYTHON" Tests/python/moto_launcher.py > "$WORK/moto.log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 600); do  # poll for the port (deadline 60 s)
    grep -q '^PORT ' "$WORK/moto.log" 2>/dev/null && break
    sleep 0.1  # poll interval
  done
  PORT=$(awk '/^PORT /{print $2}' "$WORK/moto.log")
  [[ -n "$PORT" ]] || { echo "moto did not start:"; cat "$WORK/moto.log"; exit 1; }
  SERVER_PID=$MOTO_PID
  SERVER_NAME="moto (no signature check)"
  export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_ACCESS_KEY_ID=AKIABENCH0000000000 AWS_SECRET_ACCESS_KEY=bench
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
  "$PYTHON" -c "import boto3; boto3.client('s3', endpoint_url='$AWS_ENDPOINT_URL').create_bucket(Bucket='bench')"
else
  SERVER_NAME="the sous local cloud (SigV4 checked)"
  export AWS_EC2_METADATA_DISABLED=true
fi
# The local cloud starts afresh (new data folder) for every tool, so every tool meets the same server;
# moto keeps one server and its objects are deleted between tools.
SERVER_ROUND=0
fresh_server() {
  [[ "$SERVER" == moto ]] && return
  # The previous server's data stays until the end: deleting thousands of files just before a tool runs
  # would make ext4 search past their recently deleted inodes for every file the next server creates
  # (seen in perf as recently_deleted/find_inode_bit, 20 % of the server's CPU).
  [[ -n "$LOCAL_WS" ]] && { "$SOUS_BIN" local stop --workspace "$LOCAL_WS" > /dev/null 2>&1 || true; }
  SERVER_ROUND=$((SERVER_ROUND + 1))
  LOCAL_WS="$WORK/lc$SERVER_ROUND"
  "$SOUS_BIN" local start --workspace "$LOCAL_WS" > /dev/null
  eval "$("$SOUS_BIN" local env --workspace "$LOCAL_WS")"
  PORT=${AWS_ENDPOINT_URL##*:}
  SERVER_PID=$("$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))['pid'])" "$LOCAL_WS/.sous/local-cloud/server.json")
  "$PYTHON" -c "import boto3; boto3.client('s3', endpoint_url='$AWS_ENDPOINT_URL').create_bucket(Bucket='bench')"
}
fresh_server
server_cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$SERVER_PID/stat"; }
settle() { sync; }  # moto spools uploads to /tmp: flush between tools
# Touches SOUS_BENCH_WARM_GIB (default 3) GiB of memory and frees it just before each tool runs. On a VM whose
# host backs guest memory lazily and takes back freed pages (free page reporting), the first touch of a page
# costs far more than the copy into it (measured here: ~3 s of system CPU per GiB, against ~0.6 s once backed),
# and every upload makes the server fill ~2 GiB of new page cache. Without this, that cost lands on whichever
# tool meets cold pages, the same for all of them, and swamps the tools' own costs. 0 turns it off.
WARM_GIB=${SOUS_BENCH_WARM_GIB:-3}
REPS=${BENCH_REPS:-3}
warm_memory() {
  [[ "$WARM_GIB" == 0 ]] && return
  "$PYTHON" -c "
import sys, time
t = time.time()
chunks = [b'\\x01' * (256 << 20) for _ in range(int(sys.argv[1]) * 4)]
print(f'{time.time() - t:.1f}')" "$WARM_GIB"
}

# Runs a command under /usr/bin/time -v; prints "seconds peak_kib client_cpu_s server_cpu_s".
measure() {
  local log="$WORK/time.$1.log"; shift
  local t0 t1 s0 s1
  WARMED=$(warm_memory)
  s0=$(server_cpu)
  t0=$(date +%s.%N)
  /usr/bin/time -v "$@" > "$log.out" 2> "$log"
  t1=$(date +%s.%N)
  s1=$(server_cpu)
  local cpu
  cpu=$(awk -F': ' '/User time|System time/{s+=$2} END{printf "%.1f", s}' "$log")
  echo "$("$PYTHON" -c "print(f'{$t1-$t0:.3f}')") $(awk -F': ' '/Maximum resident set size/{print $2}' "$log") $cpu $("$PYTHON" -c "print(f'{$s1-$s0:.1f}')") ${WARMED:--}"
}
# Counts what a tool uploaded; on moto also deletes it, so moto's spool does not grow across tools.
uploaded_count() {
  "$PYTHON" - "$1" "$SERVER" <<'PY'
import boto3, os, sys
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix=sys.argv[1]) for o in p.get("Contents", [])]
for i in range(0, len(keys) if sys.argv[2] == "moto" else 0, 1000):
    s3.delete_objects(Bucket="bench", Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True})
print(len(keys))
PY
}

cat > "$WORK/upload.yaml" <<EOF
name: bench-upload
steps:
  - id: up
    uses: s3.upload
    with:
      source: $WORK/data
      bucket: bench
      prefix: sous
EOF

echo "uploading $FILES files, $((TOTAL_BYTES >> 20)) MiB, to $SERVER_NAME on 127.0.0.1 ($REPS round(s) of sous and the CLI, alternating)"
# Keeps the fastest of the rounds for a tool: "seconds peak_kib client_cpu server_cpu warm" (+ objects seen).
best() {  # best VAR "new measurement" objects
  local cur=${!1:-}
  if [[ -z "$cur" ]] || "$PYTHON" -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "${2%% *}" "${cur%% *}"; then
    printf -v "$1" '%s %s' "$2" "$3"
  fi
}
SOUS_BEST= CLI_BEST= SOUS_UPLOAD_LINE=
for round in $(seq 1 "$REPS"); do
  fresh_server
  m=$(measure sous "$SOUS_BIN" run "$WORK/upload.yaml" --workspace "$WORK/ws$round" -v)
  line=$(grep -o 'in [0-9.]* s ([0-9.]* MiB/s)' "$WORK/time.sous.log.out" "$WORK/time.sous.log" 2>/dev/null | head -1 | sed 's/^[^:]*://' || true)
  n=$(uploaded_count sous/)
  settle
  before=${SOUS_BEST%% *}
  best SOUS_BEST "$m" "$n"
  [[ "${SOUS_BEST%% *}" != "$before" ]] && SOUS_UPLOAD_LINE=$line
  fresh_server
  c=$(measure awscli aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp "$WORK/data" s3://bench/awscli/ --recursive --only-show-errors)
  n=$(uploaded_count awscli/)
  settle
  best CLI_BEST "$c" "$n"
  echo "  round $round: sous ${m%% *} s, aws s3 cp ${c%% *} s"
done
read -r SOUS_S SOUS_KB SOUS_CPU SOUS_SRV SOUS_WARM N_SOUS <<< "$SOUS_BEST"
read -r CLI_S CLI_KB CLI_CPU CLI_SRV CLI_WARM N_CLI <<< "$CLI_BEST"

cat > "$WORK/boto3_upload.py" <<'PY'
import boto3, os, sys
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
root = sys.argv[1]
for d, _, names in os.walk(root):
    for n in sorted(names):
        path = os.path.join(d, n)
        s3.upload_file(path, "bench", "boto3/" + os.path.relpath(path, root))
PY
fresh_server
read -r B3_S B3_KB B3_CPU B3_SRV B3_WARM < <(measure boto3 "$PYTHON" "$WORK/boto3_upload.py" "$WORK/data")
N_B3=$(uploaded_count boto3/)

"$PYTHON" - "$TOTAL_BYTES" "$FILES" "$SOUS_S" "$SOUS_KB" "$N_SOUS" "$CLI_S" "$CLI_KB" "$N_CLI" "$B3_S" "$B3_KB" "$N_B3" \
  "$("$PYTHON" -c 'import boto3; print(boto3.__version__)')" "$(aws --version 2>&1 | awk '{print $1}')" "$SOUS_UPLOAD_LINE" "$SOUS_CPU" "$CLI_CPU" "$B3_CPU" "$(uptime | sed 's/.*load average: //')" "$SOUS_SRV" "$CLI_SRV" "$B3_SRV" "$SOUS_WARM" "$CLI_WARM" "$B3_WARM" <<'PY'
import sys
a = sys.argv[1:]
total, files = int(a[0]), int(a[1])
rows = [("sous run (s3.upload)", float(a[2]), int(a[3]), int(a[4]), float(a[14]), float(a[18])),
        (f"aws s3 cp --recursive ({a[12]})", float(a[5]), int(a[6]), int(a[7]), float(a[15]), float(a[19])),
        (f"boto3 {a[11]} upload_file loop", float(a[8]), int(a[9]), int(a[10]), float(a[16]), float(a[20]))]
mib = total / 1048576
print(f"{'tool':<40} {'time':>8} {'MiB/s':>8} {'peak RSS':>10} {'client CPU s':>12} {'server CPU s':>12} {'objects':>8}")
for name, s, kb, n, cpu, srv in rows:
    ok = "" if n == files else f"  (expected {files})"
    print(f"{name:<40} {s:7.2f}s {mib / s:8.1f} {kb / 1024:8.1f}MB {cpu:12.1f} {srv:12.1f} {n:8d}{ok}")
sous = rows[0]
for name, s, kb, _, cpu, _ in rows[1:]:
    print(f"sous vs {name}: {s / sous[1]:.2f}x the speed, {cpu / max(sous[4], 0.01):.2f}x less client CPU, "
          f"{sous[2] / kb:.2f}x the memory")
if a[13]:
    print(f"(the s3.upload step alone: {a[13]})")
cli = rows[1]
met = cli[1] / sous[1] >= 2 and sous[2] < 256 * 1024
print(f"goal (>= 2x the AWS CLI's speed, memory independent of file size): {'met' if met else 'NOT met'} "
      f"({cli[1] / sous[1]:.2f}x, {sous[2] / 1024:.0f} MB peak)")
if a[21] != "-":
    print(f"memory warm-up before each tool ({a[21]} / {a[22]} / {a[23]} s to touch the same GiBs: higher = colder pages; "
          "SOUS_BENCH_WARM_GIB=0 skips it)")
print(f"load average at the end: {a[17]} (best of the rounds on a shared 2-core machine: other work skews these figures)")
PY
