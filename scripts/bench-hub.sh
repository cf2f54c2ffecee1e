#!/usr/bin/env bash
# Benchmark (issue #5): sous vs huggingface_hub.snapshot_download vs curl on a 1.6 GB repository
# (four 400 MB LFS files + 200 small regular files) from a loopback Hub test server
# (Tests/python/hub_server.py) whose LFS files redirect to nginx (a fast static server, sendfile on).
# Cold cache for each tool. The tools run in turn, ROUNDS times (interleaved); each tool's best round counts.
# curl neither hashes nor flushes to the disk: it runs three times per round, alone (the ceiling), followed by
# sha256sum of what it wrote (sous's verification), and followed by `sync` of those files (sous's fsync).
# Goals (issue #20): sous with every sha256 verified >= 90% of curl's throughput and >= 3x huggingface_hub's.
#
# Usage: scripts/bench-hub.sh
# Env:   BENCH        data folder, generated once and reused (default /tmp/sous-bench-hub)
#        BIG_FILES    number of large LFS files (default 4)      BIG_MB  their size in MB (10^6, default 400)
#        SMALL_FILES  number of small regular files (default 200)
#        WORKERS      parallel downloads for every tool (default 8 = sous's and huggingface_hub's default)
#        ROUNDS       interleaved rounds (default 3)
#        SOUS_BIN     (default .build/release/sous, the release build every bench script shares: scripts/lib/release.sh)
#        PYTHON       (default python3, with huggingface_hub installed)
#        OUT          folder the tools download into (default /tmp): put it on the disk you want measured. sous
#                     writes large blobs around the page cache and flushes every blob, so where the disk is slower
#                     than the network (this VM's virtio disk) it measures the disk; an ext4 on a RAM-backed loop
#                     device stands in for a fast NVMe disk (see docs/benchmarks.md).
# Needs nginx (only for this benchmark; not for building or testing sous):
#        sudo apt-get install -y nginx-light      (Debian/Ubuntu; or the `nginx` package)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:-/tmp/sous-bench-hub}
BIG_FILES=${BIG_FILES:-4}
BIG_MB=${BIG_MB:-400}
SMALL_FILES=${SMALL_FILES:-200}
WORKERS=${WORKERS:-8}
ROUNDS=${ROUNDS:-3}
PYTHON=${PYTHON:-python3}

NGINX=$(command -v nginx || true)
[[ -z "$NGINX" && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
if [[ -z "$NGINX" ]]; then
  echo "bench-hub: nginx is needed for this benchmark only; install it with" >&2
  echo "  sudo apt-get install -y nginx-light     (Debian/Ubuntu; or the nginx package of your system)" >&2
  exit 2
fi
source scripts/lib/release.sh  # SOUS_BIN: the shared release build (or the one given)

# 1. The repository on disk, generated once: $BENCH/data/blobs/<sha256> (large files, served by nginx),
#    $BENCH/data/small/<path> (small files, also served by nginx for curl), $BENCH/spec.json for the Hub server.
PARAMS="$BIG_FILES x $BIG_MB MB + $SMALL_FILES small v1"
if [[ "$(cat "$BENCH/params" 2>/dev/null)" != "$PARAMS" ]]; then
  echo "generating the repository in $BENCH ($PARAMS) ..."
  rm -rf "$BENCH"
  mkdir -p "$BENCH/data/blobs" "$BENCH/data/small"
  "$PYTHON" - "$BENCH" "$BIG_FILES" "$BIG_MB" "$SMALL_FILES" <<'PY'
import hashlib, json, os, random, sys
bench, n, mb, n_small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
files = []
for i in range(n):
    rng, h, left = random.Random(i), hashlib.sha256(), mb * 1000 * 1000
    tmp = f"{bench}/data/blobs/tmp"
    with open(tmp, "wb") as f:
        while left:
            chunk = rng.randbytes(min(left, 16 << 20))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    sha = h.hexdigest()
    os.rename(tmp, f"{bench}/data/blobs/{sha}")
    files.append({"path": f"model-{i + 1:05d}-of-{n:05d}.safetensors", "file": f"{bench}/data/blobs/{sha}",
                  "size": mb * 1000 * 1000, "sha256": sha, "lfs": True, "url": f"blobs/{sha}"})
rng = random.Random(1234)
folders = ["", "tokenizer/", "onnx/", "docs/examples/"]
for i in range(n_small):
    path = f"{folders[i % len(folders)]}file-{i:03d}." + ("json" if i % 3 else "txt")
    size = int(2 ** rng.uniform(6, 18))  # 64 B .. 256 KiB, log-uniform
    data = rng.randbytes(size)
    dst = f"{bench}/data/small/{path}"
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "wb") as f:
        f.write(data)
    files.append({"path": path, "file": dst, "size": size, "sha256": hashlib.sha256(data).hexdigest(),
                  "url": f"small/{path}"})
with open(f"{bench}/spec.json", "w") as f:
    json.dump({"repos": [{"id": "bench/model", "files": files}]}, f)
PY
  echo "$PARAMS" > "$BENCH/params"
fi

OUT=${OUT:-/tmp}
WORK=$(mktemp -d "$OUT/sous-bench-hub-run.XXXXXX")
chmod 755 "$WORK"
SERVER_PID=
NGINX_PID=
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null
  [[ -n "$NGINX_PID" ]] && kill "$NGINX_PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_for() {  # poll a URL until it answers (deadline 30 s)
  for _ in $(seq 1 300); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1  # poll interval
  done
  echo "bench-hub: $1 did not come up" >&2
  return 1
}

# 2. nginx in the foreground, unprivileged (as nobody when this runs as root), on a free loopback port.
NGPORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path $WORK/nginx/client;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$NGPORT;
    root $BENCH/data;
  }
}
EOF
AS_USER=()
if [[ "$(id -u)" = 0 ]] && command -v setpriv > /dev/null; then
  chown -R nobody "$WORK/nginx"
  AS_USER=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
"${AS_USER[@]}" "$NGINX" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!
STORAGE="http://127.0.0.1:$NGPORT"
wait_for "$STORAGE/"

# 3. The Hub test server: metadata and small files itself, LFS resolves redirect to nginx.
"$PYTHON" Tests/python/hub_server.py "$BENCH/spec.json" --storage-base "$STORAGE/blobs" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do  # poll for the port (deadline 30 s)
  grep -q '^PORT ' "$WORK/server.log" 2>/dev/null && break
  sleep 0.1  # poll interval
done
PORT=$(awk '/^PORT /{print $2}' "$WORK/server.log")
[[ -n "$PORT" ]] || { echo "server did not start:"; cat "$WORK/server.log"; exit 1; }
export HF_ENDPOINT="http://127.0.0.1:$PORT" HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1
unset HF_TOKEN HF_HUB_OFFLINE HF_HUB_ENABLE_HF_TRANSFER HF_XET_HIGH_PERFORMANCE || true

# Runs a command, recording "<wall s> <peak RSS KiB> <user s> <system s>" in $WORK/<name>.time.
measure() {
  local name=$1; shift
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -f '%e %M %U %S' -o "$WORK/$name.time" "$@"
  else
    "$PYTHON" - "$WORK/$name.time" "$@" <<'PY'
import resource, subprocess, sys, time
t0 = time.perf_counter()
rc = subprocess.call(sys.argv[2:])
dt = time.perf_counter() - t0
with open(sys.argv[1], "w") as f:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    f.write(f"{dt:.3f} {r.ru_maxrss} {r.ru_utime:.2f} {r.ru_stime:.2f}\n")
sys.exit(rc)
PY
  fi
}

HF_VERSION=$("$PYTHON" -c 'import huggingface_hub as h; print(h.__version__)')
echo "repo: $PARAMS from a loopback Hub (port $PORT), LFS via nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') (port $NGPORT); $WORKERS parallel downloads each"
echo "downloads into $WORK: $(df -T "$WORK" | awk 'NR==2{print $2 " on " $1}')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

tree() { (cd "$1" && find . -path ./.locks -prune -o -print | sort); }
# Each tool starts from the same state: the previous tool's output deleted and dirty pages flushed
# (else the third tool would pay for writing back the first two's 3.2 GB).
settle() { rm -rf "$@"; sync; }

# The curl runs' config (every file straight from nginx) and sha256sum's list of the files it writes.
"$PYTHON" - "$BENCH/spec.json" "$STORAGE" "$WORK/curl" "$WORK/curl.cfg" "$WORK/curl.files" <<'PY'
import json, sys
spec, storage, out, cfg, names = sys.argv[1:]
files = json.load(open(spec))["repos"][0]["files"]
with open(cfg, "w") as f:
    for e in files:
        f.write(f'url = "{storage}/{e["url"]}"\noutput = "{out}/{e["path"]}"\n')
with open(names, "w") as f:
    f.write("".join(f'{e["path"]}\n' for e in files))
PY
# curl, then sha256sum (coreutils) over the files it wrote, $(nproc) at a time: the same work as sous's.
cat > "$WORK/curl-sha256sum.sh" <<EOF
set -euo pipefail
curl -sf --no-progress-meter --create-dirs --parallel --parallel-max $WORKERS -K "$WORK/curl.cfg"
cd "$WORK/curl" && xargs -a "$WORK/curl.files" -d '\n' -P $(nproc) -n 8 sha256sum > "$WORK/curl.sums"
EOF
# curl, then `sync FILE...` (fsync of each file it wrote): the same durability as sous's blobs.
cat > "$WORK/curl-sync.sh" <<EOF
set -euo pipefail
curl -sf --no-progress-meter --create-dirs --parallel --parallel-max $WORKERS -K "$WORK/curl.cfg"
cd "$WORK/curl" && xargs -a "$WORK/curl.files" -d '\n' sync
EOF

for round in $(seq 1 "$ROUNDS"); do
  # 4. sous (cold cache), then every file of its snapshot checked against the sha256 of the source.
  settle
  measure "sous.$round" "$SOUS_BIN" hub download bench/model --cache-dir "$WORK/sous" --workers "$WORKERS" > "$WORK/sous.json"
  "$PYTHON" - "$BENCH/spec.json" "$WORK/sous.json" <<'PY'
import hashlib, json, os, sys
spec = json.load(open(sys.argv[1]))["repos"][0]["files"]
snap = json.load(open(sys.argv[2]))["path"]
bad = []
for f in spec:
    h = hashlib.sha256()
    with open(os.path.join(snap, f["path"]), "rb") as fh:
        while chunk := fh.read(16 << 20):
            h.update(chunk)
    if h.hexdigest() != f["sha256"]:
        bad.append(f["path"])
if bad:
    print(f"sous snapshot: {len(bad)} of {len(spec)} files with the wrong sha256: {bad[:5]}")
sys.exit(1 if bad else 0)
PY
  tree "$WORK/sous" > "$WORK/sous.tree"
  settle "$WORK/sous"
  # 5. huggingface_hub (cold cache, default settings, max_workers=$WORKERS; no hf_transfer).
  measure "hf.$round" env HF_HUB_CACHE="$WORK/hf" "$PYTHON" -c \
    "import sys; from huggingface_hub import snapshot_download as s; s('bench/model', max_workers=int(sys.argv[1]))" \
    "$WORKERS" > /dev/null
  tree "$WORK/hf" > "$WORK/hf.tree"
  settle "$WORK/hf"
  diff -q "$WORK/sous.tree" "$WORK/hf.tree" > /dev/null || { echo "cache trees of sous and huggingface_hub: DIFFER"; exit 1; }

  # 6. curl: the same files straight from nginx, in parallel, to files: the ceiling (it hashes nothing).
  measure "curl.$round" curl -sf --no-progress-meter --create-dirs --parallel --parallel-max "$WORKERS" -K "$WORK/curl.cfg"
  [[ "$(du -sb "$WORK/curl" | cut -f1)" -ge "$((BIG_FILES * BIG_MB * 1000000))" ]] || { echo "curl download incomplete"; exit 1; }
  settle "$WORK/curl"

  # 6b. curl, then sha256sum of what it wrote (the sums are checked against the source below).
  measure "curlsha.$round" bash "$WORK/curl-sha256sum.sh"
  settle "$WORK/curl"

  # 6c. curl, then `sync` of the files it wrote: on the disk, as sous's fsynced blobs are when it returns.
  measure "curlsync.$round" bash "$WORK/curl-sync.sh"
  settle "$WORK/curl"
  echo "round $round of $ROUNDS done (load average $(cut -d' ' -f1-3 /proc/loadavg))"
done
echo "every file of sous's snapshot has the source's sha256; cache trees of sous and huggingface_hub: identical"

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# 7. Figures: each tool's best round (the one least disturbed by the machine's other work).
"$PYTHON" - "$BENCH/spec.json" "$WORK" "$ROUNDS" "$HF_VERSION" "$(curl --version | awk 'NR==1{print $2}')" <<'PY'
import json, sys
spec, work, rounds, hfv, curlv = sys.argv[1:]
files = json.load(open(spec))["repos"][0]["files"]
total = sum(f["size"] for f in files)
sums = {}
for line in open(f"{work}/curl.sums"):
    digest, path = line.rstrip("\n").split("  ", 1)
    sums[path] = digest
if sums != {f["path"]: f["sha256"] for f in files}:
    sys.exit("curl + sha256sum: the sums differ from the source's")
def best(name):
    runs = []
    for r in range(1, int(rounds) + 1):
        s, kib, user, system = open(f"{work}/{name}.{r}.time").read().split()
        runs.append((float(s), int(kib) * 1024, float(user) + float(system)))
    return min(runs), [s for s, _, _ in runs]
import os
names = ["sous", "hf", "curl", "curlsha", "curlsync"]
rows = {k: best(k) for k in names}
labels = {"sous": "sous (sha256, fsync)", "hf": f"huggingface_hub {hfv}",
          "curl": f"curl {curlv} (no hash, no fsync)", "curlsha": "curl, then sha256sum", "curlsync": "curl, then sync of its files"}
gbps = {k: total / s / 1e9 for k, ((s, _, _), _) in rows.items()}
print(f"best of {rounds} interleaved rounds per tool")
print(f"{'tool':<32} {'seconds':>8} {'GB/s':>7} {'peak RSS':>10} {'CPU s':>7}  every round (s)")
for k, ((s, rss, cpu), all_s) in rows.items():
    print(f"{labels[k]:<32} {s:8.2f} {gbps[k]:7.3f} {rss / 1e6:7.0f} MB {cpu:7.2f}  {' '.join(f'{x:.2f}' for x in all_s)}")
ratio, frac = gbps["sous"] / gbps["hf"], gbps["sous"] / gbps["curl"]
frac_sha, frac_sync = gbps["sous"] / gbps["curlsha"], gbps["sous"] / gbps["curlsync"]
sous_rss = rows["sous"][0][1]
largest = max(f["size"] for f in files)
print(f"total {total / 1e9:.2f} GB; sous/huggingface_hub = {ratio:.2f}x; sous/curl = {frac:.0%}; "
      f"sous/(curl, then sha256sum) = {frac_sha:.0%}; sous/(curl, then sync) = {frac_sync:.0%}; sous peak RSS {sous_rss / 1e6:.0f} MB vs largest file {largest / 1e6:.0f} MB")
checks = [(">= 3x huggingface_hub", ratio >= 3), (">= 90% of curl (which neither hashes nor fsyncs)", frac >= 0.9),
          ("every file's sha256 verified", True), ("peak RSS < half the largest file", sous_rss < largest / 2)]
print("goal: " + "; ".join(f"{name} {'met' if ok else 'NOT met'}" for name, ok in checks))
print(f"goal {'MET' if all(ok for _, ok in checks) else 'NOT MET'}")
PY
