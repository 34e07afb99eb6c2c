#!/bin/sh
# Host A's PostgreSQL, first start only (docker-entrypoint-initdb.d): the role host B's
# replica streams with, and the slot that keeps the WAL it has not received yet.
set -eu
pw="$(cat /run/secrets/replication_password)"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '$pw';
SELECT pg_create_physical_replication_slot('govid_b');
SQL
