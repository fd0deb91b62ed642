#!/usr/bin/env bash
# Builds the .deb packages of the hub, the kiosk and the admin tool with
# cargo-deb, from binaries already built: `cargo build --release --workspace
# --bins` then `scripts/package.sh release` for a delivery; CI packages the
# debug binaries its tests built (`scripts/package.sh`, profile dev).
#
# With --check (CI, as root on Debian 12): installs the three packages on
# this machine, checks their files, users, CUPS diversions and units
# (systemd-analyze verify), runs the installed binaries, then purges them
# and checks the machine is as before. See docs/deploy.md.
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
profile=dev
for arg in "$@"; do
  case "$arg" in
    --check) check=true ;;
    release|dev) profile=$arg ;;
    *) echo "usage: scripts/package.sh [release|dev] [--check]" >&2; exit 2 ;;
  esac
done

# cargo-deb is built once from crates.io into a cache outside the clone,
# like geckodriver in scripts/setup.sh, pinned for repeatable packages.
CARGO_DEB_VERSION=3.8.0
DEB_ROOT="$HOME/.cache/visio-public/tools/cargo-deb"
cargo_deb="$DEB_ROOT/bin/cargo-deb"
if ! "$cargo_deb" --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
  echo "package: building cargo-deb $CARGO_DEB_VERSION (once)" >&2
  CARGO_TARGET_DIR="$HOME/.cache/visio-public/tools/cargo-deb-build" \
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --root "$DEB_ROOT" --quiet
  rm -rf "$HOME/.cache/visio-public/tools/cargo-deb-build"
fi

target_dir="${CARGO_TARGET_DIR:-target}"
out="$target_dir/debian"
mkdir -p "$out"
packages=(visio-admin visio-hub visio-kiosk)
debs=()
for p in "${packages[@]}"; do
  # --no-build: the binaries are there already. The dev profile is what CI
  # has (cargo-deb warns that it is meant for releases); --fast: gzip,
  # seconds instead of a minute of xz for debug-sized binaries.
  deb=$("$cargo_deb" -p "$p" --no-build --profile "$profile" --fast --locked -o "$out" 2>"$out/$p.log" | tail -1) || {
    cat "$out/$p.log" >&2
    exit 1
  }
  deb=$(realpath "$deb")
  debs+=("$deb")
  echo "package: $deb ($(du -h "$deb" | cut -f1))" >&2
done
$check || exit 0

# From here on, each check counts; the closing line says how many passed.
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "package: ok: $*" >&2; }
bad() { failed=$((failed + 1)); echo "package: FAILED: $*" >&2; }
expect() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }

contents() { dpkg-deb --contents "$1" | awk '{print $6}' | sed 's|^\./|/|'; }
has() { contents "$1" | grep -qx "$2"; }
hub_deb=${debs[1]} kiosk_deb=${debs[2]} admin_deb=${debs[0]}
for f in /usr/bin/visio-hub /usr/lib/systemd/system/visio-hub.service /usr/lib/systemd/system/visio-hub@.service \
         /etc/visio-hub/hub.env /usr/share/doc/visio-hub/copyright /usr/share/doc/visio-hub/examples/1.env; do
  expect "visio-hub ships $f" has "$hub_deb" "$f"
done
for f in /usr/bin/visio-kiosk /usr/lib/systemd/system/visio-kiosk.service /usr/share/visio-kiosk/cups/cupsd.conf /usr/share/visio-kiosk/cups/cups-files.conf \
         /usr/lib/systemd/system/cups.service.d/visio-kiosk.conf /usr/share/doc/visio-kiosk/copyright; do
  expect "visio-kiosk ships $f" has "$kiosk_deb" "$f"
done
expect "visio-admin ships /usr/bin/visio-admin" has "$admin_deb" /usr/bin/visio-admin
expect "the kiosk depends on the driverless scanner backend" sh -c "dpkg-deb --field '$kiosk_deb' Depends | grep -q sane-airscan"
expect "the copyright file carries the EUPL-1.2 text" sh -c "dpkg-deb --fsys-tarfile '$hub_deb' | tar -xO ./usr/share/doc/visio-hub/copyright | grep -q 'EUROPEAN UNION PUBLIC LICENCE v. 1.2'"

if [ "$(id -u)" -ne 0 ]; then
  echo "package: not root: contents checked, install checks skipped" >&2
else
  cups_before=$(sha256sum /etc/cups/cupsd.conf 2>/dev/null || true)
  # Other installs may hold dpkg's lock for a while: wait for it.
  apt=(apt-get -y -q -o DPkg::Lock::Timeout=600)
  purge() { DEBIAN_FRONTEND=noninteractive "${apt[@]}" purge "${packages[@]}" >/dev/null 2>&1 || true; }
  trap purge EXIT
  # The kiosk's dependencies (cage, sane-airscan, …) are in
  # scripts/setup.sh, so this installs from the local files only.
  if DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends "${debs[@]}" >"$out/install.log" 2>&1; then
    ok "the three packages install"
  else
    bad "the three packages install (see $out/install.log)"; tail -20 "$out/install.log" >&2
  fi
  for b in visio-hub visio-kiosk visio-admin; do
    expect "/usr/bin/$b --version runs" sh -c "/usr/bin/$b --version | grep -q '^$b '"
  done
  expect "the kiosk command knows --admin-keys-file" sh -c "/usr/bin/visio-kiosk --help | grep -q -- --admin-keys-file"
  expect "system user visio-hub" getent passwd visio-hub
  expect "system user visio-kiosk, in the scanner and video groups" sh -c "id -nG visio-kiosk | grep -qw scanner && id -nG visio-kiosk | grep -qw video"
  expect "/var/lib/visio-hub belongs to visio-hub" sh -c "[ \"\$(stat -c %U /var/lib/visio-hub)\" = visio-hub ]"
  expect "CUPS runs the kiosk's settings" cmp /etc/cups/cupsd.conf deploy/cups/cupsd.conf
  expect "CUPS's own settings are diverted" sh -c "dpkg-divert --list visio-kiosk | grep -q cups-files.conf"
  # systemd-analyze verify checks syntax, the executables and users named;
  # a template is verified through an instance.
  instance=$(mktemp -d)
  cp /usr/lib/systemd/system/visio-hub@.service "$instance/visio-hub@1.service"
  for unit in /usr/lib/systemd/system/visio-hub.service "$instance/visio-hub@1.service" /usr/lib/systemd/system/visio-kiosk.service; do
    if report=$(systemd-analyze verify "$unit" 2>&1) && ! grep -q "$(basename "$unit")" <<<"$report"; then
      ok "systemd-analyze verify $(basename "$unit")"
    else
      bad "systemd-analyze verify $(basename "$unit")"; echo "$report" >&2
    fi
  done
  rm -rf "$instance"
  trap - EXIT
  if DEBIAN_FRONTEND=noninteractive "${apt[@]}" purge "${packages[@]}" >"$out/purge.log" 2>&1; then ok "the three packages purge"; else bad "the three packages purge"; cat "$out/purge.log" >&2; fi
  expect "purging removes the users" sh -c "! getent passwd visio-hub && ! getent passwd visio-kiosk"
  expect "purging leaves no folder behind" sh -c "[ ! -e /etc/visio-hub ] && [ ! -e /etc/visio-kiosk ] && [ ! -e /var/lib/visio-hub ] && [ ! -e /var/lib/visio-kiosk ]"
  expect "purging gives CUPS its settings back" sh -c "[ \"\$(sha256sum /etc/cups/cupsd.conf 2>/dev/null || true)\" = '$cups_before' ] && ! dpkg-divert --list visio-kiosk | grep -q ."
fi
echo "packages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
