#!/bin/sh
# The two-host reference's secrets (once, on one machine; then copy ./secrets to the
# others over a channel you trust): a password for the replication role, the two URLs in
# their two-host form (GovID's database with both hosts: libpq finds the primary with
# target_session_attrs=read-write; Redis through the three Sentinels, master `govid`),
# and the single-host ones (deploy/make-secrets.sh makes what is still missing). Never
# overwrites a file that exists.
#
#   sh make-secrets.sh [secrets-dir] [env-file]      # defaults: ./secrets ./.env
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-$here/secrets}"
env_file="${2:-$here/.env}"
# shellcheck disable=SC1090
. "$env_file"
umask 077
mkdir -p "$dir"
chmod 700 "$dir"
rand() { head -c "$1" /dev/urandom | base64 | tr -d '\n/+='; }
new() {
	if [ ! -e "$dir/$1" ]; then printf '%s' "$2" >"$dir/$1"; chmod 444 "$dir/$1"; echo "made $dir/$1"; fi
}
new postgres_password "$(rand 24)"
new redis_password "$(rand 24)"
new replication_password "$(rand 24)"
pg="$(cat "$dir/postgres_password")"
rd="$(cat "$dir/redis_password")"
new database_url "postgresql://govid:$pg@/govid?host=$HOST_A_ADDR,$HOST_B_ADDR&port=5432,5432&target_session_attrs=read-write"
new redis_url "redis+sentinel://:$rd@$HOST_A_ADDR:26379,$HOST_B_ADDR:26379,$WITNESS_ADDR:26379/govid/0?sentinel_password=$rd"
sh "$here/../make-secrets.sh" "$dir"
