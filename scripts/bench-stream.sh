#!/usr/bin/env bash
# Stream decoding benchmark: sous (event-stream decoder + container parser + text sink) against the peer
# (botocore's EventStream + the anchor notebooks' LineIterator and printer), on the same generated files:
# a ~100 MB TGI stream and a ~100 MB LMI stream (PayloadParts cut at seeded random places, encoded by sous).
#
# Usage: scripts/bench-stream.sh [MB]      (default 100; run it once, not in a loop: the machine is shared)
# Goal: sous >= 50x the peer and >= 540 MB/s (wall clock; the same check on CPU time is printed too, for a
# shared machine); added latency per token p99 < 50 us.
set -euo pipefail
cd "$(dirname "$0")/.."
MB="${1:-100}"
DIR="${SOUS_BENCH_DIR:-$(mktemp -d /tmp/sous-bench-stream.XXXXXX)}"
mkdir -p "$DIR"
PY="${SOUS_PYTHON:-python3}"

source scripts/lib/release.sh  # SOUS_BIN: the shared release build (or the one given)
SOUS=$SOUS_BIN

# The files: synthetic TGI and LMI outputs cut into PayloadParts at seeded random places (same seeds as
# RuntimeBenchmarkTests). SOUS_BENCH_STREAM_REUSE=1 keeps files already in $DIR.
if [ "${SOUS_BENCH_STREAM_REUSE:-0}" = 1 ] && [ -f "$DIR/bench-tgi.es" ] && [ -f "$DIR/bench-lmi.es" ]; then
    echo "== reusing $DIR/bench-{tgi,lmi}.es"
else
    echo "== sous: generating ${MB} MB files in $DIR"
    "$SOUS" bench stream --generate-only --mb "$MB" --dir "$DIR"
fi

echo "== sous bench stream (event-stream decoder + container parser + text sink, as sous invoke prints)"
: >"$DIR/sous.txt"
for f in tgi lmi; do
    "$SOUS" bench stream --file "$DIR/bench-$f.es" --format "$f" | tee -a "$DIR/sous.txt"
done

echo "== peer: botocore EventStream + notebook LineIterator/printer"
: >"$DIR/peer.txt"
for f in tgi lmi; do
    "$PY" Tests/python/bench_stream_peer.py "$DIR/bench-$f.es" --format "$f" 2>>"$DIR/peer.txt" >/dev/null
done
cat "$DIR/peer.txt"

echo "== result"
"$PY" - "$DIR/sous.txt" "$DIR/peer.txt" <<'PYEOF'
import os, re, sys
def parse(path, tag):
    out = {}
    for line in open(path):
        if line.startswith(tag):
            kv = dict(re.findall(r"(\w+)=(\S+)", line))
            out[kv["format"]] = kv
    return out
sous, peer = parse(sys.argv[1], "SOUS_BENCH"), parse(sys.argv[2], "PEER")
# The goal is on wall-clock time; on a shared machine the other processes slow the wall clock of both sides, so
# the same check on CPU time (thread CPU seconds: what the work itself costs) is printed too.
ok_wall = ok_cpu = True
for f in ("tgi", "lmi"):
    sw, pw = float(sous[f]["mbps"]), float(peer[f]["mbps"])
    sc, pc = float(sous[f].get("cpumbps", sw)), float(peer[f].get("cpumbps", pw))
    p99 = float(sous[f]["p99us"])
    good_wall = sw / pw >= 50 and sw >= 540 and p99 < 50
    good_cpu = sc / pc >= 50 and sc >= 540 and p99 < 50
    ok_wall &= good_wall
    ok_cpu &= good_cpu
    print("%-4s wall clock: sous %7.1f MB/s  peer %5.2f MB/s  ratio %6.1fx  %s" % (f, sw, pw, sw / pw, "OK" if good_wall else "BELOW GOAL"))
    print("     CPU time:   sous %7.1f MB/s  peer %5.2f MB/s  ratio %6.1fx  %s" % (sc, pc, sc / pc, "OK" if good_cpu else "BELOW GOAL"))
    if "eventmbps" in sous[f]:
        ev = float(sous[f]["eventmbps"])
        print("     through sous invoke's own path (payload iterator + AnswerStream, one write per arrival): %7.1f MB/s wall (%.1fx the peer)" % (ev, ev / pw))
    print("     added latency per token: p50 %.2f us, p99 %.2f us" % (float(sous[f]["p50us"]), p99))
load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
print("goal (>= 50x, >= 540 MB/s, p99 < 50 us): wall clock %s; per CPU second %s (load average %s, %d CPUs)"
      % ("met" if ok_wall else "NOT met", "met" if ok_cpu else "NOT met", load, os.cpu_count() or 0))
PYEOF
