#!/usr/bin/env bash
# README's first command: installs whatever is missing, then starts the hub on
# its embedded defaults (https://127.0.0.1:8443, demo region, a demo kiosk and
# a demo agent), keeping its data in .data/hub. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --locked -p visio-hub
exec cargo run --locked -q -p visio-hub -- --data-dir .data/hub serve --demo "$@"
