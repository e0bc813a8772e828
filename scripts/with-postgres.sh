#!/usr/bin/env bash
# Runs CMD... beside a throwaway PostgreSQL cluster on loopback, with
# RUNQY_VAULT_TEST_POSTGRES_URL pointing at it, then stops the cluster.
#
#   bash scripts/with-postgres.sh cargo test -p runqy-vault --test store
#
# Installs PostgreSQL from Debian's packages when pg_ctl is missing. The cluster
# lives in a temp dir, trusts every local connection (it listens on 127.0.0.1
# only, on a free port) and is gone when CMD ends, whatever its exit status.
# An already set RUNQY_VAULT_TEST_POSTGRES_URL is kept: no cluster is started.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARG...]" >&2
  exit 2
fi

if [ -n "${RUNQY_VAULT_TEST_POSTGRES_URL:-}" ]; then
  exec "$@"
fi

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
# server that asks for a password.
SCRAM_ROLE=runqy_vault_pw_test
printf '%s\n' "local all all trust" \
  "host all $SCRAM_ROLE 127.0.0.1/32 scram-sha-256" \
  "host all all 127.0.0.1/32 trust" > "$DATA/data/pg_hba.conf"
# Sockets go to the temp dir: /var/run/postgresql may not exist or be writable.
"${RUN[@]}" "$BIN/pg_ctl" -D "$DATA/data" -l "$DATA/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=off -c max_connections=200" start >/dev/null \
  || { cat "$DATA/server.log" >&2; exit 1; }

export RUNQY_VAULT_TEST_POSTGRES_URL="postgres://$DB_USER@127.0.0.1:$PORT/postgres"
"${RUN[@]}" "$BIN/psql" -q -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d postgres \
  -c "CREATE ROLE $SCRAM_ROLE LOGIN PASSWORD 'the-right-password'" >/dev/null
export RUNQY_VAULT_TEST_POSTGRES_SCRAM_ROLE=$SCRAM_ROLE
echo "==> PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on $RUNQY_VAULT_TEST_POSTGRES_URL" >&2
set +e
"$@"
status=$?
set -e
exit "$status"
