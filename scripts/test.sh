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
# The .deb packages of the hub, the kiosk and the admin tool, from the debug
# binaries the tests just built: built, installed, checked and purged
# (the whole run only: a filtered run may not have built them).
if [[ $# -eq 0 ]]; then
    bash scripts/package.sh --check
    # The lints every change is held to (docs/decisions.md #281, "Clippy in CI").
    cargo clippy --workspace --all-targets --locked -- -D warnings
    # And the crates' documentation, links included.
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
fi
