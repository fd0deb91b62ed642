#!/usr/bin/env bash
# Installs everything Visio-Public needs on a Debian 12 machine, idempotently:
# system packages (apt), then checks the Rust toolchain. Sourced or run by
# scripts/demo.sh and scripts/test.sh, so README's two commands stay two.
set -euo pipefail

# Libraries our crates link against, and the real components the tests start
# (GStreamer test sources, SANE's test backend, cupsd with a PDF queue,
# Chromium as the agent's browser, coturn for TURN, Xvfb for screenshots).
# Video codecs: VP8 is in plugins-good; H.264 needs x264enc (plugins-ugly) or
# openh264enc/dec (plugins-bad), h264parse (plugins-bad), avdec_h264 (libav).
APT_PACKAGES=(
  build-essential pkg-config ca-certificates curl git
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  sane-utils libsane1 libsane-dev
  cups cups-client cups-bsd cups-ipp-utils printer-driver-cups-pdf poppler-utils
  chromium chromium-driver
  # The agent console's tests also run in Firefox ESR, which many French
  # administrations give their agents (geckodriver is built below).
  firefox-esr
  coturn
  xvfb imagemagick xdotool
  libx11-6 libxcursor1 libxi6 libxkbcommon0 libxkbcommon-x11-0 libwayland-client0
  libvulkan1 mesa-vulkan-drivers fonts-dejavu-core
  iproute2 iptables procps
  # visio-linkem's tests ping across the emulated link
  iputils-ping
  # Several hub processes (issue 10): the tests start their own PostgreSQL
  # 15 (initdb in a temp dir; as root through setpriv, util-linux).
  postgresql-15 util-linux
  # ... and NATS between hub processes (Debian 12: nats-server 2.9).
  nats-server
  # scripts/cluster.sh makes the processes' shared certificate with it.
  openssl
  # Document tests (issue 20) make their inputs with the tools residents and
  # town halls use: an office suite's PDF export (Writer without a GUI),
  # Ghostscript, qpdf (object streams, encryption), img2pdf (scanner-style
  # JPEG-in-PDF).
  libreoffice-writer-nogui ghostscript qpdf img2pdf
  # The kiosk's spoken prompts (issue 23): the espeak-ng program, offline,
  # French and English voices (docs/decisions.md #295, "Speech through
  # the espeak-ng program").
  espeak-ng
  # Sites behind an HTTP proxy (issue 22): the kiosk's tests tunnel the hub
  # link and TURN through a real one.
  tinyproxy
  # A sound server with a virtual loudspeaker for the kiosk's sound-output
  # probe (issues 23 and 25): the tests start their own pulseaudio.
  pulseaudio
  # pactl: the kiosk asks the sound server whether its handset is plugged
  # in and routes the sound to it (issue 23 item 2; pulseaudio brings it,
  # named so a PipeWire kiosk has it too).
  pulseaudio-utils
  # GNU time: peak memory of a document reader and its helpers (examples/hostile_documents.rs).
  time
  # The kiosk package's dependencies that nothing above brings (cage, the
  # driverless scanner backend), so scripts/package.sh --check installs it
  # from the local .deb alone; cargo-deb's dependency list needs dpkg-dev.
  cage sane-airscan dpkg-dev
  # Driverless devices (issue 25): the printer tests run CUPS's IPP
  # Everywhere emulator (ippeveprinter, in cups-ipp-utils above), which
  # needs a D-Bus bus of its own even when it advertises nothing.
  dbus-daemon
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${#missing[@]} system package(s): ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # Post-install messages saying a service could not start are expected:
  # there is no systemd here, and the tests start each daemon themselves.
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found. Install Rust 1.95 or newer with rustup (https://rustup.rs), then run again." >&2
  exit 1
fi
rust_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if [ "${rust_minor:-0}" -lt 95 ]; then
  echo "setup: $(rustc --version) is too old; this workspace needs Rust 1.95 or newer (rustup update)." >&2
  exit 1
fi

# geckodriver drives Firefox ESR in the console's tests. Debian 12 does not
# package it: built once from crates.io into a cache outside the clone
# (the path crates/testkit/src/browser.rs looks in), pinned for repeatable runs.
GECKODRIVER_VERSION=0.37.1
GECKO_ROOT="$HOME/.cache/visio-public/tools/geckodriver"
if ! "$GECKO_ROOT/bin/geckodriver" --version 2>/dev/null | grep -q "geckodriver $GECKODRIVER_VERSION"; then
  echo "setup: building geckodriver $GECKODRIVER_VERSION (once)" >&2
  CARGO_TARGET_DIR="$HOME/.cache/visio-public/tools/geckodriver-build" \
    cargo install geckodriver --version "$GECKODRIVER_VERSION" --locked --root "$GECKO_ROOT" --quiet
  rm -rf "$HOME/.cache/visio-public/tools/geckodriver-build"
fi
