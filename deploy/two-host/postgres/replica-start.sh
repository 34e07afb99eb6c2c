#!/bin/sh
# Host B's PostgreSQL. First start: a base backup of host A's primary, then stream from
# it as the synchronous standby `govid_b` (host A's synchronous_standby_names). Later
# starts: run what is there (a standby, or a primary after `pg_ctl promote`).
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
pass=/var/lib/postgresql/.pgpass
printf '*:5432:replication:replicator:%s\n' "$(cat /run/secrets/replication_password)" > "$pass"
chmod 0600 "$pass"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h "$HOST_A_ADDR" -p 5432 -q; do sleep 2; done
  PGPASSFILE="$pass" pg_basebackup -h "$HOST_A_ADDR" -p 5432 -U replicator \
    -D "$PGDATA" -X stream -S govid_b -R -P
  echo "primary_conninfo = 'host=$HOST_A_ADDR port=5432 user=replicator passfile=$pass application_name=govid_b'" \
    >> "$PGDATA/postgresql.auto.conf"
  chmod 0700 "$PGDATA"
fi
exec postgres \
  -c listen_addresses="$HOST_B_ADDR,127.0.0.1" \
  -c wal_level=replica -c max_wal_senders=5 -c max_replication_slots=5 \
  -c wal_keep_size=1GB -c hot_standby=on \
  -c "synchronous_standby_names=ANY 1 (govid_a)" -c synchronous_commit=on \
  -c hba_file=/etc/govid/pg_hba.conf
