#!/usr/bin/env bash
# Renders every kiosk screen to PNG under a virtual display (Xvfb), from the
# real app in its --scene mode, into docs/screenshots/: each screen as it
# is, with large text (<scene>-large.png) and in easy-read (<scene>-easy.png).
# Usage:
#   bash scripts/screenshots.sh [WIDTHxHEIGHT] [SCENE...]
#   PANEL=10.1 bash scripts/screenshots.sh 1280x800 home scan-consent waiting
# The size defaults to the kiosk configuration's default panel, 1920x1080
# (touch targets are sized for the panel: a smaller window than the panel
# shows them larger than they would be). PANEL, a diagonal in inches, runs
# the demo kiosk on a panel of that size and of the window's pixels (2 cm
# targets at its density, the compact layout on a small one) and names the
# files kiosk-<inches>in-<scene>.png (kiosk-10in-home-large.png).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
size="${1:-1920x1080}"
shift || true
scenes=("$@")
if [ ${#scenes[@]} -eq 0 ]; then
  scenes=(home home-closed waiting call call-confirm call-scan scan-place scan-feeder scan-page scan-next scan-consent document sign ended out-of-service ended-warning waiting-host callback-offer callback-slots callback-booked waiting-callback)
fi
cargo build --locked -q -p visio-kiosk
bin="${CARGO_TARGET_DIR:-target}/debug/visio-kiosk"
out=docs/screenshots
mkdir -p "$out"
config=() prefix=
if [ -n "${PANEL:-}" ]; then
  # The demo kiosk's file with a "panel" of the window's size.
  # Named as its id, as a kiosk's file must be.
  panel_dir=$(mktemp -d)
  panel_file="$panel_dir/demo-kiosk.json"
  sed '$ s/^}$/, "panel": {"diagonal_inches": '"$PANEL"', "width_px": '"${size%x*}"', "height_px": '"${size#*x}"'}}/' \
    kiosk-config/kiosks/demo-kiosk.json > "$panel_file"
  config=(--config "$panel_file")
  prefix="kiosk-${PANEL%.*}in-"
fi

display=:$(( 90 + RANDOM % 9 ))
Xvfb "$display" -screen 0 "${size}x24" -nolisten tcp -noreset >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true; [ -z "${panel_dir:-}" ] || rm -rf "$panel_dir"' EXIT
export DISPLAY="$display" ICED_BACKEND=tiny-skia VISIO_AUDIO_SINK=fakesink
# Wait until the virtual display answers.
for _ in $(seq 200); do xdotool getdisplaygeometry >/dev/null 2>&1 && break; sleep 0.05; done

for base in "${scenes[@]}"; do for mode in "" -large -easy; do
  scene="$base$mode"
  "$bin" --scene "$scene" --windowed --size "$size" "${config[@]}" >/dev/null 2>&1 &
  app=$!
  # Wait for the window, then for the app's first frames to be drawn.
  timeout 60 xdotool search --sync --name Visio-Public >/dev/null
  sleep 2
  import -window root "$out/$prefix$scene.png"
  kill "$app"; wait "$app" 2>/dev/null || true
  echo "$out/$prefix$scene.png"
done; done
