#!/usr/bin/env bash
# One load figure: starts what the configuration needs on loopback
# (PostgreSQL 15, nats-server, N visio-hub processes), enrols the simulated
# fleet, runs visio-load against it, stops and deletes everything.
#
#   crates/load/figures.sh sqlite1|pg1|pg3 KIOSKS AGENTS [visio-load run options…]
#
# BIN: where visio-hub and visio-load are (default: $CARGO_TARGET_DIR/release,
# else target/release). OUT: where the JSON reports and logs go (default
# /tmp/visio-load-figures). Run as root (PostgreSQL runs as the postgres
# user through setpriv, as in the tests). Ports 19440-19442, 19432, 19422.
set -euo pipefail

config=${1:?sqlite1, pg1 or pg3}
kiosks=${2:?number of kiosks}
agents=${3:?number of agents}
shift 3
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
OUT=${OUT:-/tmp/visio-load-figures}
PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT=19432
NATS_PORT=19422
mkdir -p "$OUT"
work=$(mktemp -d /tmp/visio-load-run.XXXXXX)
name="$config-$kiosks-$agents"
pids=()

case $config in
    sqlite1) processes=1 database= ;;
    pg1) processes=1 database=postgres://postgres@127.0.0.1:$PG_PORT/postgres ;;
    pg3) processes=3 database=postgres://postgres@127.0.0.1:$PG_PORT/postgres ;;
    *) echo "unknown configuration $config: sqlite1, pg1 or pg3" >&2; exit 2 ;;
esac

stop() {
    # Hubs first (SIGTERM: graceful), then the bus and the database.
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    [[ -n ${nats_pid:-} ]] && { kill "$nats_pid" 2>/dev/null || true; wait "$nats_pid" 2>/dev/null || true; }
    [[ -n ${pg_pid:-} ]] && { kill -INT "$pg_pid" 2>/dev/null || true; wait "$pg_pid" 2>/dev/null || true; }
    rm -rf "$work"
}
trap stop EXIT

# Ten thousand kiosks: as many sockets in visio-load and in the hubs.
# As high as allowed (a container without CAP_SYS_RESOURCE cannot pass
# its hard limit).
ulimit -n "$(ulimit -Hn)"

if [[ -n $database ]]; then
    # Production settings (fsync and synchronous commit on): take-next
    # latency includes the commit.
    chown postgres: "$work"
    setpriv --reuid=postgres --regid=postgres --clear-groups -- \
        "$PG_BIN/initdb" -D "$work/pg" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
    setpriv --reuid=postgres --regid=postgres --clear-groups -- \
        "$PG_BIN/postgres" -D "$work/pg" -p $PG_PORT -k "$work" -c listen_addresses=127.0.0.1 \
        -c max_connections=200 >"$OUT/$name.postgres.log" 2>&1 &
    pg_pid=$!
    until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p $PG_PORT; do sleep 0.2; done
    "$BIN/visio-load" accounts --database "$database" --kiosks "$kiosks" --agents "$agents" --out "$work/accounts.json"
else
    "$BIN/visio-load" accounts --data-dir "$work/hub0" --kiosks "$kiosks" --agents "$agents" --out "$work/accounts.json"
fi
if (( processes > 1 )); then
    nats-server -a 127.0.0.1 -p $NATS_PORT >"$OUT/$name.nats.log" 2>&1 &
    nats_pid=$!
    until (exec 3<>/dev/tcp/127.0.0.1/$NATS_PORT) 2>/dev/null; do sleep 0.1; done
fi

hub_args=() ca_args=() pid_args=()
for ((i = 0; i < processes; i++)); do
    port=$((19440 + i))
    args=(--data-dir "$work/hub$i")
    [[ -n $database ]] && args+=(--database "$database")
    args+=(serve --listen 127.0.0.1:$port --max-connections 30000)
    (( processes > 1 )) && args+=(--bus nats://127.0.0.1:$NATS_PORT)
    RUST_LOG=${HUB_LOG:-info} "$BIN/visio-hub" "${args[@]}" >"$OUT/$name.hub$i.log" 2>&1 &
    pids+=($!)
    # One at a time, so that a process that cannot start is named.
    until curl -sf --cacert "$work/hub$i/tls/cert.pem" "https://localhost:$port/healthz" >/dev/null 2>&1; do
        kill -0 "${pids[-1]}" || { echo "hub $i did not start: $OUT/$name.hub$i.log" >&2; exit 1; }
        sleep 0.2
    done
    hub_args+=(--hub "wss://localhost:$port")
    ca_args+=(--ca "$work/hub$i/tls/cert.pem")
    pid_args+=(--hub-pid "${pids[-1]}")
done

label=$(case $config in sqlite1) echo "1 process, SQLite";; pg1) echo "1 process, PostgreSQL";; pg3) echo "3 processes, PostgreSQL + NATS";; esac)
echo "uptime before: $(uptime)" | tee "$OUT/$name.uptime"
status=0
"$BIN/visio-load" run "${hub_args[@]}" "${ca_args[@]}" "${pid_args[@]}" --accounts "$work/accounts.json" \
    --kiosks "$kiosks" --agents "$agents" --label "$label" --markdown "$@" \
    >"$OUT/$name.json" 2> >(tee "$OUT/$name.load.log" >&2) || status=$?
echo "uptime after: $(uptime)" | tee -a "$OUT/$name.uptime"
echo "report: $OUT/$name.json (exit status $status)"
exit $status
