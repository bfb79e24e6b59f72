#!/usr/bin/env bash
# Make a PostgreSQL server answer on 127.0.0.1:${PGPORT:-5432} with the test role and database.
# Installs Debian's postgresql if needed and starts its cluster; reuses a server that is already running.
set -euo pipefail
PGPORT=${PGPORT:-5432}
ROLE=${INFLUENCE_TEST_PG_USER:-influence}
PASSWORD=${INFLUENCE_TEST_PG_PASSWORD:-influence}
DB=${INFLUENCE_TEST_PG_DB:-influence_test}

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "installing PostgreSQL from Debian packages…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p "$PGPORT"; then
  read -r version cluster _ < <(pg_lsclusters --no-header | head -n 1)
  if [ -z "${version:-}" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    cluster=main
    pg_createcluster "$version" "$cluster" --port "$PGPORT" >/dev/null
  fi
  pg_ctlcluster "$version" "$cluster" start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$PGPORT" && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p "$PGPORT"

as_postgres() { runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -p "$PGPORT" "$@"; }
if [ "$(as_postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
  as_postgres -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD' CREATEDB"
fi
if [ "$(as_postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
  as_postgres -c "CREATE DATABASE $DB OWNER $ROLE"
fi
echo "PostgreSQL ready: postgresql+psycopg://$ROLE:***@127.0.0.1:$PGPORT/$DB"
