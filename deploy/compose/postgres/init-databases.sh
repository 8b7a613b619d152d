#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised: one role and one
# database per owner (the intake, each holder, the codec server's staff
# accounts, Temporal), each reachable only
# by its own role (CONNECT revoked from PUBLIC).
set -eu

create() { # role password database...
  role="$1"; password="$2"; shift 2
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    --set=role="$role" --set=password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
SQL
  for db in "$@"; do
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
      --set=role="$role" --set=db="$db" <<'SQL'
CREATE DATABASE :"db" OWNER :"role";
REVOKE CONNECT ON DATABASE :"db" FROM PUBLIC;
SQL
  done
}

create intake "$INTAKE_DB_PASSWORD" intake
for holder in members billing accesslog support marketing partners; do
  var="HOLDER_$(echo "$holder" | tr a-z A-Z)_DB_PASSWORD"
  eval "password=\${$var:?$var is not set}"
  create "$holder" "$password" "$holder"
done
create staff "$STAFF_DB_PASSWORD" staff
create temporal "$TEMPORAL_DB_PASSWORD" temporal temporal_visibility

# Nobody but the superuser needs the maintenance databases.
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres <<'SQL'
REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT ON DATABASE template1 FROM PUBLIC;
SQL
