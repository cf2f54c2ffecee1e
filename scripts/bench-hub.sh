#!/usr/bin/env bash
# Benchmark: sous vs huggingface_hub.snapshot_download vs curl, downloading the same repo from a loopback
# Hub-compatible server (Tests/python/hub_server.py; LFS files redirect to a second "storage" port).
#
# Usage: scripts/bench-hub.sh [FILES] [MIB_PER_FILE]     (default 4 files of 64 MiB)
# Env:   SOUS_BIN  (default .build/release/sous; built with `swift build -c release --product sous` if absent)
#        PYTHON    (default python3)
# Runs each client once (no loops: the machine is shared). Requires `sous hub download` wired to
# SousHub.HubDownloadCommand.run.
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-4}
MIB=${2:-64}
PYTHON=${PYTHON:-python3}
SOUS_BIN=${SOUS_BIN:-.build/release/sous}
if [[ ! -x "$SOUS_BIN" ]]; then
  swift build -c release --product sous
fi

WORK=$(mktemp -d /tmp/sous-bench-hub.XXXXXX)
SERVER_PID=
cleanup() { [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"$PYTHON" - "$FILES" "$MIB" > "$WORK/spec.json" <<'PY'
import json, sys
n, mib = int(sys.argv[1]), int(sys.argv[2])
files = [{"path": "config.json", "text": "{\"model_type\": \"llama\"}"}]
files += [{"path": f"model-{i + 1:05d}-of-{n:05d}.safetensors", "size": mib << 20, "seed": i, "lfs": True} for i in range(n)]
print(json.dumps({"repos": [{"id": "bench/model", "files": files}]}))
PY

"$PYTHON" Tests/python/hub_server.py "$WORK/spec.json" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do  # poll for the port (deadline 30 s)
  grep -q '^PORT ' "$WORK/server.log" 2>/dev/null && break
  sleep 0.1  # poll interval
done
PORT=$(awk '/^PORT /{print $2}' "$WORK/server.log")
[[ -n "$PORT" ]] || { echo "server did not start:"; cat "$WORK/server.log"; exit 1; }
export HF_ENDPOINT="http://127.0.0.1:$PORT" HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1
unset HF_TOKEN HF_HUB_OFFLINE || true
TOTAL_MIB=$((FILES * MIB))

now() { date +%s.%N; }
report() {  # name start end
  "$PYTHON" -c "import sys; s=float(sys.argv[3])-float(sys.argv[2]); print(f'{sys.argv[1]:<28} {s:7.2f} s  {float(sys.argv[4])/s:8.1f} MiB/s')" "$1" "$2" "$3" "$TOTAL_MIB"
}

echo "repo: $FILES x $MIB MiB LFS files from a loopback Hub (port $PORT), 8 parallel downloads where supported"

T0=$(now)
"$SOUS_BIN" hub download bench/model --cache-dir "$WORK/sous" --workers 8 > "$WORK/sous.json"
T1=$(now); report "sous" "$T0" "$T1"

T0=$(now)
HF_HUB_CACHE="$WORK/hf" "$PYTHON" -c "from huggingface_hub import snapshot_download as s; s('bench/model', max_workers=8)" > /dev/null
T1=$(now); report "huggingface_hub $("$PYTHON" -c 'import huggingface_hub as h; print(h.__version__)')" "$T0" "$T1"

mkdir -p "$WORK/curl"
URLS=()
for i in $(seq 1 "$FILES"); do
  f=$(printf 'model-%05d-of-%05d.safetensors' "$i" "$FILES")
  URLS+=(-o "$WORK/curl/$f" "$HF_ENDPOINT/bench/model/resolve/main/$f")
done
T0=$(now)
curl -sfL --no-progress-meter --parallel --parallel-max 8 "${URLS[@]}"
T1=$(now); report "curl --parallel ($(curl --version | awk 'NR==1{print $2}'))" "$T0" "$T1"

# The caches must agree (same blobs and links).
if diff <(cd "$WORK/sous" && find . -path ./.locks -prune -o -print | sort) \
        <(cd "$WORK/hf" && find . -path ./.locks -prune -o -print | sort) > /dev/null; then
  echo "cache trees: identical"
else
  echo "cache trees: DIFFER"; exit 1
fi
