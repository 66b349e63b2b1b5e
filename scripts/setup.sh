#!/usr/bin/env bash
# Installs what Keelson needs to build, run the demo and run its tests.
#   scripts/setup.sh lib    fetch libchdb.so (embedded ClickHouse) into lib/ with npm pack
#   scripts/setup.sh test   also install the Debian packages the test suite talks to
set -euo pipefail
cd "$(dirname "$0")/.."
CHDB_VERSION=${CHDB_VERSION:-26.5.3}

fetch_libchdb() {
  if [ -s lib/libchdb.so ]; then return; fi
  mkdir -p lib
  tmp=$(mktemp -d)
  echo "setup: fetching libchdb.so (@chdb/lib-linux-x64-gnu@$CHDB_VERSION, ~170 MB) with npm pack" >&2
  (cd "$tmp" && npm pack --silent "@chdb/lib-linux-x64-gnu@$CHDB_VERSION" >/dev/null)
  tar -xzf "$tmp"/chdb-lib-linux-x64-gnu-*.tgz -C "$tmp" package/libchdb.so
  mv "$tmp/package/libchdb.so" lib/libchdb.so.tmp && mv lib/libchdb.so.tmp lib/libchdb.so
  rm -rf "$tmp"
}

# web_deps installs the map page's locked npm dependencies (web/node_modules),
# used to check that the committed web/dist matches a fresh build.
web_deps() {
  if [ -f web/node_modules/.package-lock.json ] && cmp -s web/package-lock.json web/node_modules/.keelson-lock; then return; fi
  echo "setup: npm ci in web/" >&2
  (cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null && cp package-lock.json node_modules/.keelson-lock)
}

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  echo "setup: apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

case "${1:-lib}" in
  lib) fetch_libchdb ;;
  test)
    fetch_libchdb
    # gpsdecode, the reference decoder the AIS tests compare with: Debian 12
    # ships it in gpsd-clients (gpsd-tools has only cgps and gpsmon there).
    apt_install gpsd-tools gpsd-clients
    # chromium: the map page's browser test (web, cmd/keelson); docker-compose:
    # `docker-compose config` validates docker-compose.yml (no engine needed).
    apt_install chromium docker-compose
    web_deps
    # clickhouse-server (Debian's 18.16): the wire peer of the storage
    # server-path tests, which start it themselves on a loopback port.
    apt_install clickhouse-server
    ;;
  *) echo "usage: scripts/setup.sh [lib|test]" >&2; exit 2 ;;
esac
