#!/usr/bin/env bash
# Runs CMD... beside a throwaway PostgreSQL cluster on loopback, with
# RUNQY_VAULT_TEST_POSTGRES_URL pointing at it, then stops the cluster.
#
#   bash scripts/with-postgres.sh cargo test -p runqy-vault --test store
#   bash scripts/with-postgres.sh --tls cargo test -p runqy-vault --test store --test postgres_tls
#
# Installs PostgreSQL from Debian's packages when pg_ctl is missing. The cluster
# lives in a temp dir, trusts every local connection (it listens on 127.0.0.1
# only, on a free port) and is gone when CMD ends, whatever its exit status.
# An already set RUNQY_VAULT_TEST_POSTGRES_URL is kept: no cluster is started
# (except with --tls, which always starts its own).
#
# --tls: the cluster runs with ssl=on and a CA, server and client certificates
# made here with openssl; the URL is then
# postgres://USER@localhost:PORT/postgres?sslmode=verify-full&sslrootcert=CA,
# so every test that takes it runs over verified TLS.
#
# Exported for the tests:
#   RUNQY_VAULT_TEST_POSTGRES_URL         the admin URL (TLS parameters in --tls mode)
#   RUNQY_VAULT_TEST_POSTGRES_SCRAM_ROLE  a role that must give a password
#   RUNQY_VAULT_TEST_POSTGRES_DATA        the cluster's data directory (postmaster.pid)
#   RUNQY_VAULT_TEST_POSTGRES_PID         the postmaster's pid at start
#   RUNQY_VAULT_TEST_POSTGRES_CTL         a script running pg_ctl on this cluster as its
#                                         owner: `$CTL restart -m fast -w`
#   --tls only:
#   RUNQY_VAULT_TEST_POSTGRES_TLS_DIR     ca.crt, other-ca.crt/.key (an unrelated CA),
#                                         client.crt/.key (CN = the cert role)
#   RUNQY_VAULT_TEST_POSTGRES_CERT_ROLE   a role that logs in by client certificate only
set -euo pipefail

TLS=0
if [ "${1:-}" = "--tls" ]; then
  TLS=1
  shift
fi

if [ "$#" -eq 0 ]; then
  echo "usage: $0 [--tls] CMD [ARG...]" >&2
  exit 2
fi

if [ "$TLS" = 0 ] && [ -n "${RUNQY_VAULT_TEST_POSTGRES_URL:-}" ]; then
  exec "$@"
fi
# A cluster of our own: nothing of an outer one's leaks into CMD.
unset RUNQY_VAULT_TEST_POSTGRES_URL RUNQY_VAULT_TEST_POSTGRES_TLS_DIR RUNQY_VAULT_TEST_POSTGRES_CERT_ROLE

pg_bin() {
  if command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return
  fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$dir" ] && [ -x "$dir/pg_ctl" ]; then
    echo "$dir"
  fi
}

BIN=$(pg_bin)
if [ -z "$BIN" ]; then
  echo "==> installing PostgreSQL from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  BIN=$(pg_bin)
fi
[ -n "$BIN" ] || { echo "with-postgres: no pg_ctl after installing postgresql" >&2; exit 1; }

# PostgreSQL refuses to run as root: run the cluster as the `postgres` user
# that Debian's package creates (or as ourselves when we are not root).
RUN=()
DB_USER=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  fi
  RUN=(runuser -u postgres --)
  DB_USER=postgres
fi

DATA=$(mktemp -d /tmp/runqy-vault-pg.XXXXXX)
if [ "${#RUN[@]}" -gt 0 ]; then chown postgres "$DATA"; fi
if command -v python3 >/dev/null 2>&1; then
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
else
  PORT=$((20000 + RANDOM % 40000))
fi

stop_cluster() {
  "${RUN[@]}" "$BIN/pg_ctl" -D "$DATA/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DATA"
}
trap stop_cluster EXIT

"${RUN[@]}" "$BIN/initdb" -D "$DATA/data" -U "$DB_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
# Trust every local connection but one role's: the wrong-password test needs a
# server that asks for a password (and, with --tls, one that needs a client
# certificate).
SCRAM_ROLE=runqy_vault_pw_test
CERT_ROLE=runqy_vault_cert_test
{
  echo "local all all trust"
  if [ "$TLS" = 1 ]; then echo "hostssl all $CERT_ROLE 127.0.0.1/32 cert"; fi
  echo "host all $SCRAM_ROLE 127.0.0.1/32 scram-sha-256"
  echo "host all all 127.0.0.1/32 trust"
} > "$DATA/data/pg_hba.conf"

SERVER_OPTS="-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=off -c max_connections=200"
if [ "$TLS" = 1 ]; then
  # A CA, a server certificate for localhost only (so 127.0.0.1 is a host name
  # mismatch), a client certificate for the cert role, and an unrelated CA.
  T="$DATA/tls"
  mkdir -p "$T"
  ec() { openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "$@" 2>/dev/null; }
  for ca in ca other-ca; do
    ec -x509 -days 2 -keyout "$T/$ca.key" -out "$T/$ca.crt" -subj "/CN=runqy-vault test $ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  done
  sign() { # NAME CN EXTENSIONS
    ec -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=$2"
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" "$3" > "$T/$1.ext"
    openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
      -days 2 -out "$T/$1.crt" -extfile "$T/$1.ext" 2>/dev/null
  }
  sign server localhost "subjectAltName=DNS:localhost"$'\n'"extendedKeyUsage=serverAuth"
  sign client "$CERT_ROLE" "extendedKeyUsage=clientAuth"
  chmod 600 "$T"/*.key
  if [ "${#RUN[@]}" -gt 0 ]; then chown postgres "$T/server.key" "$T/server.crt"; fi
  SERVER_OPTS="$SERVER_OPTS -c ssl=on -c ssl_cert_file=$T/server.crt -c ssl_key_file=$T/server.key -c ssl_ca_file=$T/ca.crt"
fi
# Sockets go to the temp dir: /var/run/postgresql may not exist or be writable.
"${RUN[@]}" "$BIN/pg_ctl" -D "$DATA/data" -l "$DATA/server.log" -w -t 60 \
  -o "$SERVER_OPTS" start >/dev/null \
  || { cat "$DATA/server.log" >&2; exit 1; }

# The fault tests freeze and restart the cluster: its data dir, pid and a pg_ctl
# that runs as the cluster's owner (restart reuses the options above).
printf '%s\n' '#!/usr/bin/env bash' \
  "exec ${RUN[*]} $BIN/pg_ctl -D $DATA/data -l $DATA/server.log \"\$@\"" > "$DATA/pg_ctl.sh"
chmod +x "$DATA/pg_ctl.sh"
export RUNQY_VAULT_TEST_POSTGRES_DATA="$DATA/data"
export RUNQY_VAULT_TEST_POSTGRES_PID="$(head -n 1 "$DATA/data/postmaster.pid")"
export RUNQY_VAULT_TEST_POSTGRES_CTL="$DATA/pg_ctl.sh"

if [ "$TLS" = 1 ]; then
  export RUNQY_VAULT_TEST_POSTGRES_URL="postgres://$DB_USER@localhost:$PORT/postgres?sslmode=verify-full&sslrootcert=$T/ca.crt"
  export RUNQY_VAULT_TEST_POSTGRES_TLS_DIR="$T"
  export RUNQY_VAULT_TEST_POSTGRES_CERT_ROLE="$CERT_ROLE"
  "${RUN[@]}" "$BIN/psql" -q -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d postgres \
    -c "CREATE ROLE $CERT_ROLE LOGIN" >/dev/null
else
  export RUNQY_VAULT_TEST_POSTGRES_URL="postgres://$DB_USER@127.0.0.1:$PORT/postgres"
fi
"${RUN[@]}" "$BIN/psql" -q -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d postgres \
  -c "CREATE ROLE $SCRAM_ROLE LOGIN PASSWORD 'the-right-password'" >/dev/null
export RUNQY_VAULT_TEST_POSTGRES_SCRAM_ROLE=$SCRAM_ROLE
echo "==> PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on $RUNQY_VAULT_TEST_POSTGRES_URL" >&2
set +e
"$@"
status=$?
set -e
exit "$status"
