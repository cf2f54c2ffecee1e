#!/usr/bin/env bash
# The main command: installs the system libraries, builds sous (release), and runs it with the
# arguments given, e.g. `scripts/run.sh run recipes/quickstart.yaml`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build -c release --product sous >/dev/null
exec .build/release/sous "$@"
