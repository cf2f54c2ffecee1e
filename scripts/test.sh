#!/usr/bin/env bash
# The test command: installs test dependencies, builds (no warnings allowed in our sources),
# and runs every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
SOUS_TEST_DEPS=1 scripts/bootstrap.sh
swift build --build-tests 2>&1 | tee .build-log.txt | grep -E 'error:|warning:' | grep -E "^$PWD/(Sources|Tests)/" && {
  echo "test.sh: the build printed warnings or errors in our sources (see above)" >&2; exit 1; } || true
swift build --build-tests >/dev/null
if [ $# -gt 0 ]; then
  exec swift test --skip-build "$@"
fi
# Timing-sensitive HTTP tests, and the suites that serve the local cloud inside the test process, run on their
# own first: the end-to-end suites block the Swift concurrency pool's threads (2 on CI) while they wait for the
# sous processes they drive, and an in-process server needs those threads to answer.
IN_PROCESS_SERVER='AuthenticationTests|Boto3Tests|ChunkedUploadTests|ClientCompatibilityTests|RoutingTests'
swift test --skip-build --filter SousHTTPTests
swift test --skip-build --filter "$IN_PROCESS_SERVER"
swift test --skip-build --skip SousHTTPTests --skip "$IN_PROCESS_SERVER"
