#!/usr/bin/env bash
# Builds the one abi3 wheel of runqy-vault (CPython >= 3.10) into target/wheels/:
# maturin with zig as the C compiler and linker, against glibc 2.17, so the wheel
# is manylinux2014 (manylinux_2_17) and installs on any glibc distribution of the
# last decade without Rust. maturin's own policy check refuses a wheel whose
# symbols need more than its tag says; auditwheel, run after, must agree.
#
#   bash scripts/build-wheel.sh        # prints the wheel's path on the last line
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  bash scripts/setup.sh
fi
OUT=target/wheels
rm -rf "$OUT"
# maturin finds zig as `python -m ziglang` of the venv (pip's ziglang package).
PATH="$PWD/.venv/bin:$PATH" .venv/bin/maturin build --release --zig --compatibility manylinux2014 \
  -m runqy-vault-py/Cargo.toml -o "$OUT" >&2
WHEELS=("$OUT"/*.whl)
[ "${#WHEELS[@]}" -eq 1 ] || { echo "build-wheel: expected one wheel, got: ${WHEELS[*]}" >&2; exit 1; }
WHEEL=${WHEELS[0]}
case "$(basename "$WHEEL")" in
  runqy_vault-*-cp310-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl | \
  runqy_vault-*-cp310-abi3-manylinux2014_aarch64.manylinux_2_17_aarch64.whl) ;;
  *) echo "build-wheel: unexpected wheel name $(basename "$WHEEL")" >&2; exit 1 ;;
esac
# An independent check of the tag: auditwheel reads the symbols the library needs.
show=$(.venv/bin/auditwheel show "$WHEEL")
echo "$show" >&2
echo "$show" | tr -s ' \n' ' ' | grep -q 'consistent with the following platform tag: "manylinux_2_17_' \
  || { echo "build-wheel: auditwheel does not confirm manylinux_2_17" >&2; exit 1; }
echo "$WHEEL"
