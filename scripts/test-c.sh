#!/usr/bin/env bash
# The C ABI: header current, C tests plain / valgrind / AddressSanitizer,
# the C example against the shared and the static library.
set -euo pipefail
cd "$(dirname "$0")/.."

CFLAGS=(-std=c11 -Wall -Wextra -Werror -g -Iinclude)
LIBS=(-lpthread -ldl -lm)
OUT=target/c-tests
mkdir -p "$OUT"
export RUST_BACKTRACE=0 # the panic test prints one panic message; no backtrace noise

echo "--- header is what the pinned cbindgen generates"
want="0.29.4"
have="$(cbindgen --version | awk '{print $2}')"
if [ "$have" != "$want" ]; then
  echo "cbindgen $have found, $want pinned: run scripts/setup.sh" >&2
  exit 1
fi
(cd runqy-vault-ffi && cbindgen --quiet --output "../$OUT/runqy_vault.h")
if ! cmp -s "$OUT/runqy_vault.h" include/runqy_vault.h; then
  diff -u include/runqy_vault.h "$OUT/runqy_vault.h" || true
  echo "include/runqy_vault.h is stale: cd runqy-vault-ffi && cbindgen --output ../include/runqy_vault.h" >&2
  exit 1
fi

echo "--- build (test hooks on) and copy the libraries aside"
# Copied at once: other builds in the shared target dir rebuild without the feature.
cargo build -p runqy-vault-ffi --features test-hooks
cp target/debug/librunqy_vault_ffi.a target/debug/librunqy_vault_ffi.so "$OUT/"

echo "--- C tests, plain"
cc "${CFLAGS[@]}" tests/c/test_ffi.c "$OUT/librunqy_vault_ffi.a" "${LIBS[@]}" -o "$OUT/test_ffi"
"$OUT/test_ffi"

echo "--- C tests against the shared library"
cc "${CFLAGS[@]}" tests/c/test_ffi.c -L"$OUT" -lrunqy_vault_ffi -o "$OUT/test_ffi_shared"
LD_LIBRARY_PATH="$OUT" "$OUT/test_ffi_shared"

echo "--- C tests under valgrind"
valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 "$OUT/test_ffi"

echo "--- C tests under AddressSanitizer (leak detection on)"
cc "${CFLAGS[@]}" -fsanitize=address -fno-omit-frame-pointer tests/c/test_ffi.c \
  "$OUT/librunqy_vault_ffi.a" "${LIBS[@]}" -o "$OUT/test_ffi_asan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$OUT/test_ffi_asan"

echo "--- C tests on PostgreSQL: plain, AddressSanitizer, valgrind"
# The main flow runs when scripts/with-postgres.sh (or the developer) set
# RUNQY_VAULT_TEST_POSTGRES_URL, an admin URL: each run gets a fresh database,
# dropped at exit. Without it test_postgres says the main flow was skipped.
cc "${CFLAGS[@]}" tests/c/test_postgres.c "$OUT/librunqy_vault_ffi.a" "${LIBS[@]}" -o "$OUT/test_postgres"
cc "${CFLAGS[@]}" -fsanitize=address -fno-omit-frame-pointer tests/c/test_postgres.c \
  "$OUT/librunqy_vault_ffi.a" "${LIBS[@]}" -o "$OUT/test_postgres_asan"
pg_dbs=()
drop_pg_dbs() {
  local db
  for db in "${pg_dbs[@]}"; do
    psql -q -v ON_ERROR_STOP=1 "$RUNQY_VAULT_TEST_POSTGRES_URL" \
      -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
  done
  pg_dbs=()
}
trap drop_pg_dbs EXIT
# Creates a database on the admin URL's server; prints the URL pointing at it.
pg_db_url() {
  local name="rv_c_$$_${#pg_dbs[@]}"
  psql -q -v ON_ERROR_STOP=1 "$RUNQY_VAULT_TEST_POSTGRES_URL" -c "CREATE DATABASE $name" >/dev/null
  pg_dbs+=("$name")
  local base="${RUNQY_VAULT_TEST_POSTGRES_URL%%\?*}"
  local query="${RUNQY_VAULT_TEST_POSTGRES_URL#"$base"}"
  PG_DB_URL="${base%/*}/$name$query"
}
# Under valgrind too; "possibly lost" is hidden: the connection pool's
# housekeeping thread may still be winding down when main returns.
for variant in test_postgres test_postgres_asan valgrind; do
  echo "$variant:"
  run=("$OUT/$variant")
  if [ "$variant" = valgrind ]; then
    run=(valgrind -q --leak-check=full --show-possibly-lost=no --errors-for-leak-kinds=definite
      --error-exitcode=1 "$OUT/test_postgres")
  fi
  PG_DB_URL=
  if [ -n "${RUNQY_VAULT_TEST_POSTGRES_URL:-}" ]; then
    command -v psql >/dev/null || { echo "RUNQY_VAULT_TEST_POSTGRES_URL is set but psql is missing" >&2; exit 1; }
    pg_db_url
  fi
  RUNQY_VAULT_TEST_POSTGRES_DB_URL="$PG_DB_URL" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "${run[@]}"
done
drop_pg_dbs

echo "--- C example: shared, static, and through pkg-config (scripts/install-lib.sh)"
export RUNQY_VAULT_MASTER_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
work="$(mktemp -d)"
trap 'rm -rf "$work"; drop_pg_dbs' EXIT
# The two link lines of examples/c/payload.c, against the copied libraries.
cc -Wall -Wextra -Werror -Iinclude examples/c/payload.c -L"$OUT" -lrunqy_vault_ffi -o "$OUT/payload-shared"
cc -Wall -Wextra -Werror -Iinclude examples/c/payload.c "$OUT/librunqy_vault_ffi.a" -lpthread -ldl -lm -o "$OUT/payload-static"
bash scripts/install-lib.sh "$work/prefix" --debug
read -ra pc_flags <<<"$(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags --libs runqy_vault)"
cc -Wall -Wextra -Werror examples/c/payload.c "${pc_flags[@]}" -o "$OUT/payload-pkg-config"
want_payload='payload: {"vaults":{"OPENAI_API_KEY":"sk-proj-abc123xx","REGION":"eu-west-1"}}'
for variant in shared static pkg-config; do
  got="$(LD_LIBRARY_PATH="$OUT" "$OUT/payload-$variant" "$work/$variant.db")"
  echo "$got"
  grep -qF '"key":"OPENAI_API_KEY","value":"sk****xx","is_secret":true' <<<"$got"
  grep -qxF "$want_payload" <<<"$got"
done
echo "--- C ABI: all passed"
