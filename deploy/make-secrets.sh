#!/bin/sh
# Make the secret files compose.yaml reads (./secrets next to it), once, on the host.
# Files are 0444 so the containers' unprivileged users can read them; the directory is
# 0700 so nobody else on the host can. Keep a copy of data_key off this host: without it
# the secrets stored encrypted in the database cannot be read (docs/operations.md).
set -eu
dir="${1:-secrets}"
umask 077
mkdir -p "$dir"
chmod 700 "$dir"
rand() { head -c "$1" /dev/urandom | base64 | tr -d '\n/+='; }
new() {  # new NAME VALUE: write unless it exists (never overwrite a secret in use)
	if [ ! -e "$dir/$1" ]; then printf '%s' "$2" >"$dir/$1"; chmod 444 "$dir/$1"; echo "made $dir/$1"; fi
}
new secret_key "$(rand 48)"
new data_key "$(head -c 32 /dev/urandom | base64)"
new postgres_password "$(rand 24)"
new redis_password "$(rand 24)"
new ldap_password "$(rand 24)"
new database_url "postgresql://govid:$(cat "$dir/postgres_password")@postgres:5432/govid"
new redis_url "redis://:$(cat "$dir/redis_password")@redis:6379/0"
