#!/bin/sh
# Render slapd.conf from slapd.conf.in, load the base entries on first start, then run
# slapd in the foreground (PID 1 of the container; SIGTERM stops it cleanly).
#
#   LDAP_SUFFIX         default dc=mail,dc=go,dc=th
#   LDAP_ROOT_PASSWORD  required (the provisioning worker binds as cn=admin,<suffix>)
#   LDAP_TLS_CERT / LDAP_TLS_KEY   PEM files: enable StartTLS and ldaps:// (port 636)
#   LDAP_URLS           default "ldap:///" (plus "ldaps:///" when TLS is configured)
#   LDAP_DB_OPTIONS     extra mdb lines, e.g. "dbnosync" (faster, less durable)
#   CONF_DIR DATA_DIR RUN_DIR      paths (defaults suit the image)
set -eu

SUFFIX="${LDAP_SUFFIX:-dc=mail,dc=go,dc=th}"
CONF_DIR="${CONF_DIR:-/etc/ldap/govid}"
DATA_DIR="${DATA_DIR:-/var/lib/ldap/govid}"
RUN_DIR="${RUN_DIR:-/run/slapd}"
SRC_DIR="${SRC_DIR:-$(dirname "$0")}"
: "${LDAP_ROOT_PASSWORD:?set LDAP_ROOT_PASSWORD}"

mkdir -p "$CONF_DIR" "$DATA_DIR" "$RUN_DIR"
[ "$SRC_DIR/govid.schema" -ef "$CONF_DIR/govid.schema" ] || cp "$SRC_DIR/govid.schema" "$CONF_DIR/"

TLS=""
URLS="${LDAP_URLS:-ldap:///}"
if [ -n "${LDAP_TLS_CERT:-}" ]; then
    TLS="TLSCertificateFile ${LDAP_TLS_CERT}
TLSCertificateKeyFile ${LDAP_TLS_KEY:?LDAP_TLS_KEY is needed with LDAP_TLS_CERT}"
    URLS="${LDAP_URLS:-ldap:/// ldaps:///}"
fi

HASH="$(slappasswd -h '{SSHA}' -s "$LDAP_ROOT_PASSWORD")"
DC="$(printf '%s' "$SUFFIX" | sed -e 's/^dc=//' -e 's/,.*//')"

render() {
    awk -v conf="$CONF_DIR" -v data="$DATA_DIR" -v run="$RUN_DIR" -v suffix="$SUFFIX" \
        -v hash="$HASH" -v tls="$TLS" -v dc="$DC" -v dbopts="${LDAP_DB_OPTIONS:-}" '{
        gsub(/@CONF_DIR@/, conf); gsub(/@DATA_DIR@/, data); gsub(/@RUN_DIR@/, run);
        gsub(/@SUFFIX@/, suffix); gsub(/@ROOTPW_HASH@/, hash); gsub(/@TLS@/, tls);
        gsub(/@DC@/, dc); gsub(/@DB_OPTIONS@/, dbopts); print }' "$1"
}

umask 077
render "$SRC_DIR/slapd.conf.in" > "$CONF_DIR/slapd.conf"
if [ -z "$(ls -A "$DATA_DIR" 2>/dev/null)" ]; then
    render "$SRC_DIR/init.ldif.in" > "$RUN_DIR/init.ldif"
    slapadd -f "$CONF_DIR/slapd.conf" -l "$RUN_DIR/init.ldif"
    rm -f "$RUN_DIR/init.ldif"
fi
slaptest -Q -u -f "$CONF_DIR/slapd.conf"
# -d 0: stay in the foreground without debug output.
exec slapd -f "$CONF_DIR/slapd.conf" -h "$URLS" -d 0
