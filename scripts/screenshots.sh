#!/usr/bin/env bash
# Renders every kiosk screen to PNG under a virtual display (Xvfb), from the
# real app in its --scene mode, into docs/screenshots/: each screen as it
# is, with large text (<scene>-large.png) and in easy-read (<scene>-easy.png).
# Usage:
#   bash scripts/screenshots.sh [WIDTHxHEIGHT] [SCENE...]
# The size defaults to the kiosk configuration's default panel, 1920x1080
# (touch targets are sized for the panel: a smaller window than the panel
# shows them larger than they would be).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
size="${1:-1920x1080}"
shift || true
scenes=("$@")
if [ ${#scenes[@]} -eq 0 ]; then
  scenes=(home home-closed waiting call call-confirm call-scan scan-place scan-feeder scan-page scan-next scan-consent document sign ended out-of-service ended-warning waiting-host)
fi
cargo build --locked -q -p visio-kiosk
bin="${CARGO_TARGET_DIR:-target}/debug/visio-kiosk"
out=docs/screenshots
mkdir -p "$out"

display=:$(( 90 + RANDOM % 9 ))
Xvfb "$display" -screen 0 "${size}x24" -nolisten tcp -noreset >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
export DISPLAY="$display" ICED_BACKEND=tiny-skia VISIO_AUDIO_SINK=fakesink
# Wait until the virtual display answers.
for _ in $(seq 200); do xdotool getdisplaygeometry >/dev/null 2>&1 && break; sleep 0.05; done

for base in "${scenes[@]}"; do for mode in "" -large -easy; do
  scene="$base$mode"
  "$bin" --scene "$scene" --windowed --size "$size" >/dev/null 2>&1 &
  app=$!
  # Wait for the window, then for the app's first frames to be drawn.
  timeout 60 xdotool search --sync --name Visio-Public >/dev/null
  sleep 2
  import -window root "$out/$scene.png"
  kill "$app"; wait "$app" 2>/dev/null || true
  echo "$out/$scene.png"
done; done
