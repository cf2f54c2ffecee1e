#!/usr/bin/env bash
# The main command: installs the system libraries, builds sous (release), and runs it with the
# arguments given, e.g. `scripts/run.sh run recipes/quickstart.yaml`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
log=$(mktemp /tmp/sous-build.XXXXXX)
if ! swift build -c release --product sous >"$log" 2>&1; then
  grep -E 'error:' "$log" >&2 || tail -40 "$log" >&2
  echo "scripts/run.sh: the build failed (full log: $log)" >&2
  exit 1
fi
rm -f "$log"
exec .build/release/sous "$@"
