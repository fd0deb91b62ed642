#!/usr/bin/env bash
# README's second command: installs whatever is missing, then runs every
# test of the workspace (unit, integration over real TLS, and the tests that
# start real GStreamer, SANE, CUPS, coturn and Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# iced UI tests render with the CPU renderer: same pixels on every machine.
export ICED_TEST_BACKEND=tiny-skia
# No sound card on CI machines: the kiosk's chime goes to a fake sink.
export VISIO_AUDIO_SINK="${VISIO_AUDIO_SINK:-fakesink}"
cargo test --workspace --locked "$@"
