# The one release build every scripts/bench-*.sh measures. Source it from the repository root:
#
#   source scripts/lib/release.sh      # sets SOUS_BIN (absolute path) or exits with the build's errors
#
# SOUS_BIN set (e.g. an older build, for a before/after table): that binary is used as it is, nothing is built.
# Otherwise `swift build -c release --product sous` runs in the repository's own .build (incremental: a no-op
# when the binary is up to date, so every script can call it and the build happens once) and SOUS_BIN is
# .build/release/sous. No script builds into a folder of its own.
# SOUS_BUILD_FLAGS: extra `swift build` flags (e.g. "-Xswiftc -target-cpu -Xswiftc haswell"); flags that differ
# from the previous build's rebuild .build/release with them.
sous_release_bin() {
  if [[ -n "${SOUS_BIN:-}" ]]; then
    [[ -x "$SOUS_BIN" ]] || { echo "${0##*/}: SOUS_BIN=$SOUS_BIN is not an executable" >&2; exit 2; }
  else
    local log
    log=$(mktemp /tmp/sous-release-build.XXXXXX)
    echo "== release build of sous (.build/release/sous; incremental)" >&2
    # shellcheck disable=SC2086
    if ! swift build -c release --product sous ${SOUS_BUILD_FLAGS:-} > "$log" 2>&1; then
      grep -E 'error:' "$log" >&2 || tail -40 "$log" >&2
      echo "${0##*/}: the release build failed (full log: $log)" >&2
      exit 1
    fi
    rm -f "$log"
    SOUS_BIN=.build/release/sous
  fi
  SOUS_BIN=$(cd "$(dirname "$SOUS_BIN")" && pwd)/$(basename "$SOUS_BIN")
  export SOUS_BIN
}
sous_release_bin
