#!/usr/bin/env bash
# Restore check: restore a regie backup into a scratch database, check its migrations and
# verify the ledger's hash chain there (`regie ledger verify`), then drop the scratch
# database. Exit 0 only if the backup restores whole and the ledger verifies.
#
#   deploy/restore-check.sh regie-2026-12-01.dump
#   deploy/restore-check.sh --backup postgresql://regie@db/regie regie-2026-12-01.dump
#       (takes the backup first: pg_dump --format=custom)
#
# The scratch database is made on the server libpq's variables name (PGHOST, PGPORT,
# PGUSER, PGPASSWORD); its name is $RESTORE_DB (default regie_restore_check), which is
# dropped first if it exists: never point it at a database you want. REGIE (default
# `regie` on the PATH) is the command run against it; KEEP=1 keeps the scratch database.
set -euo pipefail

usage() { echo "usage: $0 [--backup SOURCE_URL] DUMP_FILE" >&2; exit 2; }

source_url=""
if [[ "${1:-}" == "--backup" ]]; then
  [[ $# -eq 3 ]] || usage
  source_url="$2"; shift 2
fi
[[ $# -eq 1 ]] || usage
dump="$1"

scratch="${RESTORE_DB:-regie_restore_check}"
regie="${REGIE:-regie}"
host="${PGHOST:-127.0.0.1}" port="${PGPORT:-5432}" user="${PGUSER:-postgres}"

if [[ -n "$source_url" ]]; then
  echo "backup: pg_dump $source_url -> $dump" >&2
  pg_dump --format=custom --no-owner --no-privileges --file="$dump" "$source_url"
fi
[[ -s "$dump" ]] || { echo "restore-check: no backup at $dump" >&2; exit 2; }

cleanup() {
  if [[ "${KEEP:-0}" != "1" ]]; then
    dropdb --if-exists -h "$host" -p "$port" -U "$user" "$scratch" || true
  fi
}
trap cleanup EXIT

echo "restore: $dump -> $scratch on $host:$port" >&2
dropdb --if-exists -h "$host" -p "$port" -U "$user" "$scratch"
createdb -h "$host" -p "$port" -U "$user" "$scratch"
pg_restore --exit-on-error --no-owner --no-privileges -h "$host" -p "$port" -U "$user" \
  -d "$scratch" "$dump"

revision=$(psql -h "$host" -p "$port" -U "$user" -d "$scratch" -qtAc \
  "SELECT version_num FROM alembic_version")
invoices=$(psql -h "$host" -p "$port" -U "$user" -d "$scratch" -qtAc \
  "SELECT count(*) FROM invoices")
entries=$(psql -h "$host" -p "$port" -U "$user" -d "$scratch" -qtAc \
  "SELECT count(*) FROM ledger_entries")
echo "restored: migration $revision, $invoices invoices, $entries journal entries" >&2

password="${PGPASSWORD:+:$PGPASSWORD}"
REGIE_DATABASE_URL="postgresql+asyncpg://${user}${password}@${host}:${port}/${scratch}" \
  "$regie" ledger verify
echo "restore check passed: $dump" >&2
