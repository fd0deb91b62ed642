#!/usr/bin/env bash
# Several hub processes on one Debian 12 machine, for trying them out and for
# load figures: a private PostgreSQL 15 cluster, nats-server, coturn with the
# TURN REST scheme, and N `visio-hub serve` processes sharing them, all on
# loopback, all without systemd (production: deploy/hub/, docs/operations.md).
#
#   bash scripts/cluster.sh up [--processes N] [--state-dir D] [--base-port P]
#   bash scripts/cluster.sh status [--state-dir D]
#   bash scripts/cluster.sh down [--state-dir D]
#
# Ports, all on 127.0.0.1, from P (default 8443): hub processes P .. P+N-1
# (HTTPS and WebSocket), PostgreSQL P+50, NATS P+51, TURN P+52 (UDP and TCP),
# TURN relays P+60 .. P+99 (UDP). `up` writes <state>/cluster.env (hub URLs,
# database, bus, TURN, CA certificate, demo accounts, PIDs) and leaves
# everything running; `down` stops what `up` started and keeps the data
# (delete the state directory to start afresh). VISIO_HUB_BIN=<binary> skips
# the build of visio-hub.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  sed -n '6,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

command=${1:-}
[ $# -gt 0 ] && shift
processes=3
state=.data/cluster
base_port=8443
while [ $# -gt 0 ]; do
  case "$1" in
    --processes) processes=${2:?--processes needs a number}; shift 2 ;;
    --state-dir) state=${2:?--state-dir needs a directory}; shift 2 ;;
    --base-port) base_port=${2:?--base-port needs a port}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "cluster: unknown argument $1" >&2; usage ;;
  esac
done
case "$command" in up|down|status) ;; *) usage ;; esac
[[ "$processes" =~ ^[0-9]+$ ]] && [ "$processes" -ge 1 ] && [ "$processes" -le 40 ] \
  || { echo "cluster: --processes must be between 1 and 40" >&2; exit 2; }
[[ "$base_port" =~ ^[0-9]+$ ]] && [ "$base_port" -ge 1024 ] && [ "$base_port" -le 65435 ] \
  || { echo "cluster: --base-port must be between 1024 and 65435 (the cluster uses P to P+99)" >&2; exit 2; }
case "$state" in *[[:space:]]*) echo "cluster: the state directory must not contain spaces: $state" >&2; exit 2 ;; esac

# How long each part may take to come up or to stop; reached only on failure.
DEADLINE=${VISIO_CLUSTER_DEADLINE:-60}
PG_BIN=/usr/lib/postgresql/15/bin

now() { date +%s; }
log() { echo "cluster: $*" >&2; }

# Whether PID $1 is a live (not zombie) process whose command line contains
# $2: a PID file naming a process that has gone and whose number was reused
# is never taken for ours.
alive() {
  local pid=$1 name=$2 cmdline
  exists "$pid" || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ "$cmdline" == *"$name"* ]]
}

# Whether PID $1 is a live process (not a zombie), whatever it runs: a
# child just started may not have reached its exec yet.
exists() {
  local stat
  [[ "$1" =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# The PID in file $1 (first line), or nothing.
pid_in() { [ -r "$1" ] && head -n1 "$1" | tr -dc '0-9' || true; }

# Whether something listens on TCP (or UDP with "u") port $1 on this machine.
listening() {
  local proto=${2:-t}
  [ -n "$(ss -Hn"$proto"l "( sport = :$1 )" 2>/dev/null)" ]
}

# Ends process $1 (named $2 in its command line) with signal $3, waiting
# until it has gone; SIGKILL after the deadline.
stop_pid() {
  local pid=$1 name=$2 signal=$3 what=$4 until
  alive "$pid" "$name" || return 0
  kill "-$signal" "$pid" 2>/dev/null || true
  until=$(( $(now) + DEADLINE ))
  while alive "$pid" "$name"; do
    if [ "$(now)" -ge "$until" ]; then
      log "$what (PID $pid) did not stop within ${DEADLINE}s after SIG$signal; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      until=$(( $(now) + DEADLINE ))
      while alive "$pid" "$name"; do
        [ "$(now)" -lt "$until" ] || { log "$what (PID $pid) survives SIGKILL"; return 1; }
        sleep 0.1
      done
      return 0
    fi
    sleep 0.1
  done
}

# --- down ----------------------------------------------------------------

do_down() {
  local dir=$1 failed=0 f pid
  [ -d "$dir" ] || { log "nothing to stop: no state directory $dir"; return 0; }
  # Hubs first, so they close their clients as a restart (WebSocket 1012)
  # while the database and the bus are still there; then the rest.
  for f in "$dir"/hub-*/hub.pid; do
    [ -e "$f" ] || continue
    pid=$(pid_in "$f")
    stop_pid "$pid" visio-hub TERM "hub $(basename "$(dirname "$f")")" || failed=1
    rm -f "$f"
  done
  pid=$(pid_in "$dir/turn/turnserver.pid")
  stop_pid "$pid" turnserver TERM coturn || failed=1
  rm -f "$dir/turn/turnserver.pid"
  pid=$(pid_in "$dir/nats/nats.pid")
  stop_pid "$pid" nats-server TERM nats-server || failed=1
  rm -f "$dir/nats/nats.pid"
  # SIGINT is PostgreSQL's fast shutdown; it removes postmaster.pid itself.
  pid=$(pid_in "$dir/pg/data/postmaster.pid")
  stop_pid "$pid" postgres INT PostgreSQL || failed=1
  if [ "$failed" -ne 0 ]; then
    log "some processes could not be stopped (above)"
    return 1
  fi
  log "stopped; the data stays in $dir (delete it to start afresh)"
}

# --- status --------------------------------------------------------------

do_status() {
  local dir=$1 down=0 f pid name port health
  [ -f "$dir/cluster.env" ] || { log "no cluster in $dir (run: bash scripts/cluster.sh up)"; return 1; }
  env_value() { sed -n "s/^$1=//p" "$dir/cluster.env"; }
  pid=$(pid_in "$dir/pg/data/postmaster.pid")
  if alive "$pid" postgres; then echo "postgresql  running  PID $pid  $(env_value DATABASE_URL | sed 's|//[^@]*@|//|')"; else echo "postgresql  stopped"; down=1; fi
  pid=$(pid_in "$dir/nats/nats.pid")
  if alive "$pid" nats-server; then echo "nats        running  PID $pid  $(env_value NATS_URL)"; else echo "nats        stopped"; down=1; fi
  pid=$(pid_in "$dir/turn/turnserver.pid")
  if alive "$pid" turnserver; then echo "coturn      running  PID $pid  $(env_value TURN_URL)"; else echo "coturn      stopped"; down=1; fi
  local i n
  n=$(env_value HUB_PROCESSES)
  for ((i = 1; i <= n; i++)); do
    f=$dir/hub-$i/listen
    name=hub-$i
    port=$(cat "$f" 2>/dev/null || true)
    pid=$(pid_in "$dir/hub-$i/hub.pid")
    if alive "$pid" visio-hub; then
      health=$(curl -fsS --max-time 5 --cacert "$dir/tls/cert.pem" "https://$port/healthz" 2>&1) || health="no answer: $health"
      echo "$name       running  PID $pid  https://$port  $health"
    else
      echo "$name       stopped"
      down=1
    fi
  done
  return $down
}

# --- up ------------------------------------------------------------------

started=0
# Stops what this `up` started before it fails, so a failed `up` leaves
# nothing running.
die() {
  log "$*"
  if [ "$started" -ne 0 ]; then
    log "stopping what was started"
    do_down "$state" >/dev/null 2>&1 || true
  fi
  exit 1
}

# Polls `$4...` until it succeeds; fails naming $1 after the deadline, or at
# once if process $2 (started by us, or found alive at start) has exited,
# showing the end of log $3.
wait_until() {
  local what=$1 pid=$2 logfile=$3
  shift 3
  local until=$(( $(now) + DEADLINE ))
  until "$@" >/dev/null 2>&1; do
    if [ -n "$pid" ] && ! exists "$pid"; then
      die "$what: the process exited; the end of $logfile:
$(tail -n 20 "$logfile" 2>/dev/null)"
    fi
    [ "$(now)" -lt "$until" ] || die "$what: not ready after ${DEADLINE}s; the end of $logfile:
$(tail -n 20 "$logfile" 2>/dev/null)"
    sleep 0.1
  done
}

# Reads NATS's greeting: it accepts clients once it sends INFO.
nats_ready() (
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  IFS= read -r -t 2 line <&3 || exit 1
  [[ "$line" == INFO* ]]
)

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

random_hex() { openssl rand -hex "$1"; }

# Runs a command as the postgres user when we are root (PostgreSQL refuses
# to run as root), as ourselves otherwise.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid=postgres --regid=postgres --clear-groups -- "$@"
  else
    "$@"
  fi
}

do_up() {
  mkdir -p "$state"
  state=$(cd "$state" && pwd)
  local pg_port=$((base_port + 50)) nats_port=$((base_port + 51)) turn_port=$((base_port + 52))
  local relay_min=$((base_port + 60)) relay_max=$((base_port + 99))

  # Already up? Then the same layout only.
  if [ -f "$state/layout" ]; then
    local previous
    previous=$(cat "$state/layout")
    if [ "$previous" != "processes=$processes base_port=$base_port" ] \
      && { alive "$(pid_in "$state/pg/data/postmaster.pid")" postgres || ls "$state"/hub-*/hub.pid >/dev/null 2>&1; }; then
      log "$state is already up with $previous; run: bash scripts/cluster.sh down --state-dir $state"
      exit 1
    fi
  fi

  # The Debian packages (postgresql-15, nats-server, coturn, …) and Rust.
  source scripts/setup.sh
  local need
  for need in "$PG_BIN/initdb" "$PG_BIN/postgres" /usr/sbin/nats-server /usr/bin/turnserver; do
    [ -x "$need" ] || { log "$need is missing although scripts/setup.sh ran; install postgresql-15, nats-server and coturn"; exit 1; }
  done
  for need in openssl curl ss setpriv pg_isready psql; do
    command -v "$need" >/dev/null || { log "$need not found; run scripts/setup.sh"; exit 1; }
  done

  local hub_bin=${VISIO_HUB_BIN:-}
  if [ -z "$hub_bin" ]; then
    log "building visio-hub (release)"
    hub_bin=$(cargo build --locked --release -p visio-hub --bin visio-hub --message-format=json-render-diagnostics \
      | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1) || { log "building visio-hub failed (above)"; exit 1; }
    [ -n "$hub_bin" ] || { log "cargo build did not report the visio-hub executable"; exit 1; }
  fi
  [ -x "$hub_bin" ] || { log "VISIO_HUB_BIN=$hub_bin is not an executable"; exit 1; }
  hub_bin=$(cd "$(dirname "$hub_bin")" && pwd)/$(basename "$hub_bin")

  # Ports: anything listening there that is not ours stops us before we start.
  local pg_pid nats_pid turn_pid i port
  pg_pid=$(pid_in "$state/pg/data/postmaster.pid"); alive "$pg_pid" postgres || pg_pid=
  nats_pid=$(pid_in "$state/nats/nats.pid"); alive "$nats_pid" nats-server || nats_pid=
  turn_pid=$(pid_in "$state/turn/turnserver.pid"); alive "$turn_pid" turnserver || turn_pid=
  [ -n "$pg_pid" ] || ! listening "$pg_port" || { log "port $pg_port (PostgreSQL) is in use; choose another --base-port"; exit 1; }
  [ -n "$nats_pid" ] || ! listening "$nats_port" || { log "port $nats_port (NATS) is in use; choose another --base-port"; exit 1; }
  if [ -z "$turn_pid" ] && { listening "$turn_port" || listening "$turn_port" u; }; then
    log "port $turn_port (TURN) is in use; choose another --base-port"; exit 1
  fi
  for ((i = 1; i <= processes; i++)); do
    port=$((base_port + i - 1))
    alive "$(pid_in "$state/hub-$i/hub.pid")" visio-hub || ! listening "$port" \
      || { log "port $port (hub process $i) is in use; choose another --base-port"; exit 1; }
  done
  echo "processes=$processes base_port=$base_port" >"$state/layout"

  # One TLS certificate for every process, like the one `serve` generates
  # (self-signed, for localhost, 127.0.0.1 and ::1); clients trust this file.
  mkdir -p "$state/tls"
  if [ ! -s "$state/tls/cert.pem" ] || [ ! -s "$state/tls/key.pem" ]; then
    chmod 700 "$state/tls"
    cat >"$state/tls/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = hub
[dn]
CN = visio-hub (cluster.sh, loopback)
[hub]
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
EOF
    (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
      -config "$state/tls/openssl.cnf" -keyout "$state/tls/key.pem" -out "$state/tls/cert.pem" 2>"$state/tls/openssl.log") \
      || { log "openssl could not make the certificate: $(cat "$state/tls/openssl.log")"; exit 1; }
    chmod 644 "$state/tls/cert.pem"
  fi

  # PostgreSQL 15: its own cluster in the state directory, on loopback.
  # Local socket: trust (this script administers it); TCP: passwords
  # (scram-sha-256), as in production.
  mkdir -p "$state/pg/run"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$state/pg" "$state/pg/run"
    as_pg test -w "$state/pg" -a -x "$state/pg" \
      || { log "the postgres user cannot reach $state/pg (a parent directory is closed to it); choose a --state-dir it can reach, e.g. /var/tmp/visio-cluster"; exit 1; }
  fi
  chmod 700 "$state/pg/run"
  if [ ! -f "$state/pg/data/PG_VERSION" ]; then
    log "creating the PostgreSQL cluster in $state/pg/data"
    (umask 077 && random_hex 24 >"$state/pg/superuser.password")
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$state/pg/superuser.password"
    as_pg "$PG_BIN/initdb" -D "$state/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --pwfile="$state/pg/superuser.password" -E UTF8 --locale=C >"$state/pg/initdb.log" 2>&1 \
      || { log "initdb failed: $(tail -n 20 "$state/pg/initdb.log")"; exit 1; }
  fi
  if [ -z "$pg_pid" ]; then
    started=1
    local postgres=("$PG_BIN/postgres" -D "$state/pg/data" -p "$pg_port" -k "$state/pg/run"
      -c listen_addresses=127.0.0.1
      # Every hub process keeps up to 8 connections, and the setup a few.
      -c "max_connections=$((8 * processes + 20))")
    [ "$(id -u)" -ne 0 ] || postgres=(setpriv --reuid=postgres --regid=postgres --clear-groups -- "${postgres[@]}")
    # setsid and setpriv exec in place: $! is the postmaster.
    setsid "${postgres[@]}" >>"$state/pg/postgres.log" 2>&1 </dev/null &
    pg_pid=$!
  fi
  wait_until "PostgreSQL on port $pg_port" "$pg_pid" "$state/pg/postgres.log" \
    pg_isready -q -h 127.0.0.1 -p "$pg_port"
  if [ ! -s "$state/pg/visio.password" ]; then
    (umask 077 && random_hex 24 >"$state/pg/visio.password")
  fi
  local db_password database_url
  db_password=$(cat "$state/pg/visio.password")
  # The same SQL as in production (deploy/hub/postgres-setup.sql); idempotent.
  psql -X -q -h "$state/pg/run" -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -v visio_password="$db_password" -f deploy/hub/postgres-setup.sql >"$state/pg/setup.log" 2>&1 \
    || die "creating the visio role and database failed: $(cat "$state/pg/setup.log")"
  database_url="postgres://visio:$db_password@127.0.0.1:$pg_port/visio"

  # NATS between the hub processes, with a user and password as in
  # production (deploy/hub/nats-server.conf).
  mkdir -p "$state/nats"
  if [ ! -s "$state/nats/password" ]; then
    (umask 077 && random_hex 16 >"$state/nats/password")
  fi
  nats_password=$(cat "$state/nats/password")
  bus_url="nats://visio-hub:$nats_password@127.0.0.1:$nats_port"
  (umask 077 && cat >"$state/nats/nats.conf" <<EOF
# Written by scripts/cluster.sh: core publish/subscribe on loopback only.
listen: 127.0.0.1:$nats_port
pid_file: "$state/nats/nats.pid"
max_payload: 1MB
authorization {
  users = [
    { user: "visio-hub", password: "$nats_password",
      permissions: { publish: ["visio.>"], subscribe: ["visio.>", "_INBOX.>"] } }
  ]
}
EOF
  )
  if [ -z "$nats_pid" ]; then
    started=1
    rm -f "$state/nats/nats.pid"
    setsid /usr/sbin/nats-server -c "$state/nats/nats.conf" >"$state/nats/nats.log" 2>&1 </dev/null &
    nats_pid=$!
  fi
  wait_until "NATS on port $nats_port" "$nats_pid" "$state/nats/nats.log" nats_ready "$nats_port"

  # coturn with the TURN REST scheme: the hub derives per-peer credentials
  # from the shared secret (first line of turn/secret).
  mkdir -p "$state/turn"
  if [ ! -s "$state/turn/secret" ]; then
    (umask 077 && random_hex 32 >"$state/turn/secret")
  fi
  (umask 077 && cat >"$state/turn/turnserver.conf" <<EOF
# Written by scripts/cluster.sh: loopback only, for trying things out.
# Production: deploy/hub/turnserver.conf.
listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port=$turn_port
min-port=$relay_min
max-port=$relay_max
realm=visio.localhost
use-auth-secret
static-auth-secret=$(cat "$state/turn/secret")
fingerprint
no-tls
no-dtls
no-cli
no-multicast-peers
# Both peers of a trial call are on this machine.
allow-loopback-peers
no-stdout-log
log-file=$state/turn/turnserver.log
simple-log
pidfile=$state/turn/turnserver.pid
EOF
  )
  if [ -z "$turn_pid" ]; then
    started=1
    rm -f "$state/turn/turnserver.pid"
    setsid /usr/bin/turnserver -c "$state/turn/turnserver.conf" >"$state/turn/stdout.log" 2>&1 </dev/null &
    turn_pid=$!
    echo "$turn_pid" >"$state/turn/turnserver.pid"
  fi
  wait_until "coturn on port $turn_port" "$turn_pid" "$state/turn/turnserver.log" tcp_open "$turn_port"
  local turn_url="turn:127.0.0.1:$turn_port?transport=udp"

  # The demo kiosk and agent, once (enrolling again would revoke the
  # kiosk's secret).
  if [ ! -s "$state/demo-kiosk.secret" ]; then
    VISIO_HUB_DATABASE=$database_url "$hub_bin" --data-dir "$state/admin" kiosk enroll demo-kiosk \
      --site "Point Visio-Public de démonstration" >"$state/demo-kiosk.secret.new" 2>"$state/admin.log" \
      || die "enrolling the demo kiosk failed: $(cat "$state/admin.log")"
    mv "$state/demo-kiosk.secret.new" "$state/demo-kiosk.secret"
    chmod 600 "$state/demo-kiosk.secret"
  fi
  if ! echo visio-demo | VISIO_HUB_DATABASE=$database_url "$hub_bin" --data-dir "$state/admin" agent add agent \
    --services caf,france-travail,msa,urssaf,cpam,carsat,impots,demo --name "Camille (démo)" --password-stdin \
    2>"$state/admin.log"; then
    grep -q 'already exists' "$state/admin.log" || die "adding the demo agent failed: $(cat "$state/admin.log")"
  fi

  # The hub processes: same database, bus, TURN and certificate; each its
  # own port and data directory. The database URL holds a password, so it
  # goes through the environment, not the command line.
  local pids=() urls=() kiosk_urls=() pid
  for ((i = 1; i <= processes; i++)); do
    port=$((base_port + i - 1))
    mkdir -p "$state/hub-$i"
    echo "127.0.0.1:$port" >"$state/hub-$i/listen"
    pid=$(pid_in "$state/hub-$i/hub.pid")
    if ! alive "$pid" visio-hub; then
      started=1
      VISIO_HUB_DATABASE=$database_url RUST_LOG=${RUST_LOG:-info} setsid "$hub_bin" --data-dir "$state/hub-$i" serve \
        --listen "127.0.0.1:$port" --cert "$state/tls/cert.pem" --key "$state/tls/key.pem" \
        --bus "$bus_url" --turn-url "$turn_url" --turn-secret-file "$state/turn/secret" \
        >>"$state/hub-$i/hub.log" 2>&1 </dev/null &
      pid=$!
      echo "$pid" >"$state/hub-$i/hub.pid"
    fi
    pids+=("$pid")
    urls+=("https://127.0.0.1:$port")
    kiosk_urls+=("wss://127.0.0.1:$port/ws/kiosk")
  done
  for ((i = 1; i <= processes; i++)); do
    wait_until "hub process $i on ${urls[i - 1]}" "${pids[i - 1]}" "$state/hub-$i/hub.log" \
      curl -fsS --max-time 5 --cacert "$state/tls/cert.pem" "${urls[i - 1]}/healthz"
  done

  local IFS=,
  cat >"$state/cluster.env.new" <<EOF
# Written by scripts/cluster.sh up; KEY=value lines, no quoting needed.
STATE_DIR=$state
HUB_PROCESSES=$processes
HUB_URLS=${urls[*]}
KIOSK_HUB_URLS=${kiosk_urls[*]}
HUB_PIDS=${pids[*]}
HUB_BIN=$hub_bin
CA_CERT=$state/tls/cert.pem
DATABASE_URL=$database_url
POSTGRES_PID=$pg_pid
NATS_URL=$bus_url
NATS_PID=$nats_pid
TURN_URL=$turn_url
TURN_SECRET_FILE=$state/turn/secret
TURN_PID=$turn_pid
DEMO_AGENT_LOGIN=agent
DEMO_AGENT_PASSWORD=visio-demo
DEMO_KIOSK_ID=demo-kiosk
DEMO_KIOSK_SECRET_FILE=$state/demo-kiosk.secret
EOF
  chmod 600 "$state/cluster.env.new"
  mv "$state/cluster.env.new" "$state/cluster.env"
  unset IFS

  cat >&2 <<EOF

Visio-Public: $processes hub processes on PostgreSQL, NATS and coturn (loopback)
  hubs:         ${urls[*]}
  certificate:  $state/tls/cert.pem (self-signed; trust it in clients)
  health:       curl --cacert $state/tls/cert.pem ${urls[0]}/healthz
  agent page:   ${urls[0]}/agent/  login "agent", password "visio-demo" (any process)
  demo kiosk:   cargo run -p visio-kiosk -- --windowed --trust $state/tls/cert.pem --secret-file $state/demo-kiosk.secret
                (its configuration names one hub address; kiosk-config/kiosks/*.json "hub.urls" takes several)
  database:     psql "\$DATABASE_URL"    bus: \$NATS_URL    TURN: $turn_url
  everything:   $state/cluster.env (source it)    logs: $state/*/*.log
  stop:         bash scripts/cluster.sh down --state-dir $state
EOF
}

case "$command" in
  up) do_up ;;
  down)
    [ -d "$state" ] && state=$(cd "$state" && pwd)
    do_down "$state"
    ;;
  status)
    [ -d "$state" ] || { log "no cluster in $state"; exit 1; }
    do_status "$(cd "$state" && pwd)"
    ;;
esac
