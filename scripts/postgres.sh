#!/usr/bin/env bash
# Makes a PostgreSQL server available for the tests and prints its admin URL.
# Uses $KMSD_TEST_POSTGRES_URL as is when set; otherwise installs Debian's postgresql if it is
# missing (needs root), starts the local cluster and sets a password for TCP logins.
set -euo pipefail
if [ -n "${KMSD_TEST_POSTGRES_URL:-}" ]; then
  echo "$KMSD_TEST_POSTGRES_URL"
  exit 0
fi
log() { printf 'postgres: %s\n' "$*" >&2; }
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  log "installing Debian's postgresql"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
version="$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)"
if [ -z "$version" ]; then
  version="$(ls /usr/lib/postgresql | sort -n | tail -1)"
  pg_createcluster "$version" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
  log "starting cluster $version/main"
  pg_ctlcluster "$version" main start >&2
fi
ready=""
for _ in $(seq 1 30); do
  su postgres -c "psql -qAt -c 'select 1'" >/dev/null 2>&1 && { ready=1; break; }
  sleep 1
done
[ -n "$ready" ] || { log "PostgreSQL $version/main did not accept connections within 30 s"; exit 1; }
su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'kmsd-test'\"" >&2
port="$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')"
echo "postgres://postgres:kmsd-test@127.0.0.1:${port}/postgres"
