#!/usr/bin/env bash
# Builds the C library (runqy-vault-ffi) and installs it for C and Go builds,
# which find it through pkg-config:
#   PREFIX/lib/librunqy_vault_ffi.a, PREFIX/lib/librunqy_vault_ffi.so
#   PREFIX/include/runqy_vault.h
#   PREFIX/lib/pkgconfig/runqy_vault.pc   (Libs: the static library)
#
#   scripts/install-lib.sh PREFIX [--debug] [--features LIST]
#   export PKG_CONFIG_PATH=PREFIX/lib/pkgconfig   # then go build / cc $(pkg-config ...)
#
# A release build by default; --debug for the test suites. --features passes
# cargo features of runqy-vault-ffi through (test-hooks, bench-hooks: for this
# repository's tests and benches only; the .pc's Description names them).
set -euo pipefail

usage() {
  echo "usage: scripts/install-lib.sh PREFIX [--debug] [--features LIST]" >&2
  exit 2
}
prefix="" profile=release features=""
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) profile=debug ;;
    --features) [ $# -ge 2 ] || usage; features="$2"; shift ;;
    --features=*) features="${1#--features=}" ;;
    -h | --help) usage ;;
    -*) echo "install-lib.sh: unknown option '$1'" >&2; usage ;;
    *) [ -z "$prefix" ] || usage; prefix="$1" ;;
  esac
  shift
done
[ -n "$prefix" ] || usage
case "$prefix" in
  *[[:space:]]*) echo "install-lib.sh: PREFIX '$prefix' holds white space, which a .pc file cannot carry" >&2; exit 2 ;;
esac
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)" # the .pc holds absolute paths

cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
out="$target/$profile"

# rustc writes the system libraries the static library needs to a file (the
# list changes with the dependencies, e.g. a TLS stack); one file per profile
# and feature set, written whenever the crate is compiled.
libs_file="$out/runqy_vault_ffi${features:+.${features//[^A-Za-z0-9_-]/_}}.native-static-libs"
build=(cargo rustc -p runqy-vault-ffi --lib)
[ "$profile" = release ] && build+=(--release)
[ -n "$features" ] && build+=(--features "$features")
build+=(-- --print "native-static-libs=$libs_file")
"${build[@]}"
if [ ! -s "$libs_file" ]; then
  # Up to date from a build whose list was since deleted: compile it again.
  clean=(cargo clean -p runqy-vault-ffi)
  [ "$profile" = release ] && clean+=(--release)
  "${clean[@]}"
  "${build[@]}"
fi
native_libs="$(tr -s '[:space:]' ' ' <"$libs_file" | sed 's/ $//')"
[ -n "$native_libs" ] || { echo "install-lib.sh: rustc wrote no native libraries to $libs_file" >&2; exit 1; }

version="$(awk '/^#define RUNQY_VAULT_VERSION_(MAJOR|MINOR|PATCH) / { v = v sep $3; sep = "." } END { print v }' include/runqy_vault.h)"
described_features=""
[ -z "$features" ] || described_features="; features: $features"
# The header declares a feature's functions under the macro cbindgen.toml maps
# the feature to; Cflags defines it, so C and Go see what this library exports.
feature_cflags=""
for feature in ${features//,/ }; do
  macro="$(sed -n "s/^\"feature = $feature\" = \"\([A-Z0-9_]*\)\"\$/\1/p" runqy-vault-ffi/cbindgen.toml)"
  [ -z "$macro" ] || feature_cflags+=" -D$macro"
done

install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0644 "$out/librunqy_vault_ffi.a" "$prefix/lib/"
for shared in librunqy_vault_ffi.so librunqy_vault_ffi.dylib; do
  if [ -f "$out/$shared" ]; then install -m 0755 "$out/$shared" "$prefix/lib/"; fi
done
install -m 0644 include/runqy_vault.h "$prefix/include/"
pc="$(<runqy-vault-ffi/runqy_vault.pc.in)"
# Quoted replacements: bash 5.2 would otherwise read '&' in them as the match.
pc="${pc//@PREFIX@/"$prefix"}"
pc="${pc//@VERSION@/"$version"}"
pc="${pc//@FEATURES@/"$described_features"}"
pc="${pc//@FEATURE_CFLAGS@/"$feature_cflags"}"
pc="${pc//@NATIVE_LIBS@/"$native_libs"}"
printf '%s\n' "$pc" >"$prefix/lib/pkgconfig/runqy_vault.pc"
echo "install-lib.sh: runqy_vault $version ($profile${features:+, features $features}) in $prefix; PKG_CONFIG_PATH=$prefix/lib/pkgconfig"
