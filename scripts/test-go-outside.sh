#!/usr/bin/env bash
# The Go module used from outside the repository, as a user's build meets it:
# the go command fetches it from a module proxy (a file:// one, serving the
# module's files as a commit holds them) into an empty module cache, which
# has no target/ and no include/ beside it; the library comes from
# scripts/install-lib.sh in a temporary prefix named by PKG_CONFIG_PATH. The
# program is examples/go with its replace directive dropped; it must still
# run once the prefix is gone (the static library is linked in).
#   scripts/test-go-outside.sh [install-lib.sh options, e.g. --debug]
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
module=github.com/publikey/runqy-vault/runqy-vault-ffi/go
version="v$(awk '/^#define RUNQY_VAULT_VERSION_(MAJOR|MINOR|PATCH) / { v = v sep $3; sep = "." } END { print v }' include/runqy_vault.h)"
work="$(mktemp -d)"
# The module cache's files are read-only.
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
case "$work/" in "$repo"/*)
  echo "test-go-outside.sh: the temporary directory $work is inside the repository" >&2; exit 1 ;;
esac

echo "--- the library, installed into a temporary prefix"
bash scripts/install-lib.sh "$work/prefix" "$@"
# Its own build cache too (see test-go.sh): nothing cached from another prefix.
export GOCACHE="$work/gocache"

echo "--- $module@$version on a file:// module proxy"
served="$work/proxy/$module/@v"
mkdir -p "$served"
# A commit's files: the tracked ones still present and the new ones not ignored.
git ls-files -z --cached --others --exclude-standard -- runqy-vault-ffi/go >"$work/files"
python3 - "$work/files" "$served/$version.zip" "$module@$version/" <<'PY'
import os, sys, zipfile
files, out, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
names = sorted({n for n in open(files, "rb").read().decode().split("\0") if n and os.path.isfile(n)})
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for n in names:
        z.write(n, prefix + os.path.relpath(n, "runqy-vault-ffi/go"))
PY
cp runqy-vault-ffi/go/go.mod "$served/$version.mod"
printf '{"Version":"%s","Time":"2026-01-01T00:00:00Z"}\n' "$version" >"$served/$version.info"
echo "$version" >"$served/list"

echo "--- examples/go, outside the repository, requiring $module $version"
cp -R examples/go "$work/app"
cd "$work/app"
export GOPROXY="file://$work/proxy" GOMODCACHE="$work/modcache" GOPATH="$work/gopath"
export GOFLAGS=-mod=mod GOWORK=off GOTOOLCHAIN=local GOPRIVATE= GONOPROXY= GONOSUMDB=
export GOSUMDB=off # the checksum database has never seen this zip
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
unset CGO_CFLAGS CGO_CPPFLAGS CGO_LDFLAGS
go mod edit -dropreplace="$module" -require="$module@$version"
go build -o "$work/bin/" ./cmd/payload ./cmd/seed ./cmd/worker
dir="$(go list -m -f '{{.Dir}}' "$module")"
[ "$dir" = "$GOMODCACHE/$module@$version" ] || { echo "the module came from $dir, not the module cache" >&2; exit 1; }
for absent in target include ../include ../../include; do
  [ ! -e "$dir/$absent" ] || { echo "the module cache holds $dir/$absent" >&2; exit 1; }
done
echo "built from $dir ($(ls "$dir" | wc -l) files, no target/ or include/)"

echo "--- run, with the library's prefix removed"
rm -rf "$work/prefix"
bash "$repo/scripts/check-go-example.sh" "$work/bin"
echo "--- Go from outside the repository: passed"
