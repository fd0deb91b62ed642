#!/usr/bin/env bash
# README's first command: installs whatever is missing, then shows a whole
# call on embedded defaults: the hub on https://127.0.0.1:8443 (demo region,
# a demo kiosk and a demo agent, data in .data/hub) and the demo kiosk
# connected to it, with GStreamer's test camera and SANE's test scanner. With
# a display ($DISPLAY or $WAYLAND_DISPLAY) the kiosk opens its window: touch
# "Démonstration"; without one, a headless kiosk asks for the `demo` service
# again after every visit. Take the call from the agent console in a
# browser. Ctrl-C stops everything.
#
#   bash scripts/demo.sh               # hub + kiosk
#   bash scripts/demo.sh --hub-only    # the hub alone
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

hub_only=false
if [[ "${1:-}" == "--hub-only" ]]; then
    hub_only=true
    shift
fi

cargo build --locked -q -p visio-hub -p visio-kiosk
bin="${CARGO_TARGET_DIR:-target}/debug"
data=.data/hub
if $hub_only; then
    exec "$bin/visio-hub" --data-dir "$data" serve --demo "$@"
fi

children=()
stop() {
    trap - EXIT INT TERM
    # SIGTERM: the kiosk hangs up and wipes its spool, the hub closes cleanly.
    for pid in "${children[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop EXIT INT TERM

"$bin/visio-hub" --data-dir "$data" serve --demo "$@" &
children+=($!)
for _ in $(seq 1 300); do
    if [[ -s "$data/demo-kiosk.secret" ]] && curl -skf https://127.0.0.1:8443/healthz >/dev/null 2>&1; then
        break
    fi
    kill -0 "${children[0]}" 2>/dev/null || { echo "demo: the hub stopped (see above)" >&2; exit 1; }
    sleep 0.2
done
curl -skf https://127.0.0.1:8443/healthz >/dev/null || { echo "demo: the hub did not answer on https://127.0.0.1:8443/healthz within 60 s" >&2; exit 1; }

# A machine without sound (a server, a VM) would put the kiosk out of
# service, since no resident could hear the agent: the demo drops its sound
# there instead (the kiosk's sound probe, docs/admin.md).
if ! ls /dev/snd/pcm* >/dev/null 2>&1 && [[ -z "${PULSE_SERVER:-}" ]] \
    && [[ ! -S "${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/pulse/native" ]]; then
    export VISIO_AUDIO_SINK="${VISIO_AUDIO_SINK:-fakesink}"
    echo "demo: no sound device on this machine; the kiosk's sound is dropped" >&2
fi
kiosk=("$bin/visio-kiosk" --hub wss://127.0.0.1:8443/ws/kiosk --trust "$data/tls/cert.pem" --secret-file "$data/demo-kiosk.secret")
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
    "${kiosk[@]}" --windowed &
    children+=($!)
    where="the kiosk's window: touch « Démonstration »"
else
    # Headless: one visit after another, each line of events on stdout.
    (while true; do "${kiosk[@]}" --headless --call demo || sleep 2; done) &
    children+=($!)
    where="a headless kiosk, already waiting for the « demo » service (its events print below)"
fi

cat <<EOF

  ┌ The demo is running ─────────────────────────────────────────────
  │ Resident: $where
  │ Agent:    open https://127.0.0.1:8443/agent/ in Chromium or Firefox
  │           (accept the self-signed certificate), sign in as
  │           « agent » / « visio-demo », take the resident, ask for a scan.
  │ Ctrl-C stops the kiosk and the hub.
  └──────────────────────────────────────────────────────────────────

EOF
wait -n "${children[@]}"
