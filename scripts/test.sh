#!/usr/bin/env bash
# README's second command: installs whatever is missing, then runs every
# test of the workspace (unit, integration over real TLS, and the tests that
# start real GStreamer, SANE, CUPS, coturn and Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo test --workspace --locked "$@"
