#!/usr/bin/env bash
# The wheel as a worker image installs it: a fresh venv, no cargo or rustc on
# PATH, `pip install` of the one wheel from a local directory (binary only:
# nothing may compile), then the Python contract tests against it. Then pip's
# own tag check: CPython 3.9 is refused the wheel, 3.10 and 3.13 accept it.
#
#   bash scripts/test-wheel.sh [WHEEL]     # default: build it (scripts/build-wheel.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

WHEEL=${1:-$(bash scripts/build-wheel.sh | tail -n 1)}
WHEEL=$(readlink -f "$WHEEL")
WORK=$(mktemp -d /tmp/runqy-vault-wheel.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/index"
cp "$WHEEL" "$WORK/index/"

PYTHON=$(command -v python3)
"$PYTHON" -m venv "$WORK/venv"
# A PATH with the venv and the system's directories only: rustup's and cargo's are gone.
CLEAN_PATH="$WORK/venv/bin:/usr/local/bin:/usr/bin:/bin"
if PATH="$CLEAN_PATH" command -v cargo >/dev/null || PATH="$CLEAN_PATH" command -v rustc >/dev/null; then
  echo "test-wheel: cargo or rustc is still on $CLEAN_PATH" >&2
  exit 1
fi
run() { env -u CARGO_HOME -u RUSTUP_HOME -u CARGO PATH="$CLEAN_PATH" "$@"; }

echo "--- install the wheel into a fresh venv without Rust"
run "$WORK/venv/bin/pip" install --quiet --only-binary=:all: --no-index --find-links "$WORK/index" runqy-vault
run "$WORK/venv/bin/pip" install --quiet --only-binary=:all: pytest mypy cryptography
run "$WORK/venv/bin/python" -c 'import runqy_vault, sys; print("installed", runqy_vault.__version__, "at", runqy_vault.__file__); assert "site-packages" in runqy_vault.__file__'

echo "--- the Python contract tests against the installed wheel"
# A copy of the repository's files (the tests read Cargo.toml and examples/)
# without the package's Python sources: only the wheel can be imported there.
mkdir -p "$WORK/src"
git ls-files -z | grep -zv '^runqy-vault-py/python/' | tar --null -T - -cf - | tar -xf - -C "$WORK/src"
[ ! -e "$WORK/src/runqy-vault-py/python" ] || { echo "test-wheel: the package's sources were copied" >&2; exit 1; }
(cd "$WORK/src/runqy-vault-py" && run "$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider tests)

echo "--- pip refuses the wheel for CPython 3.9 by its tag, takes it for 3.10 and 3.13"
for version in 3.10 3.13; do
  run "$WORK/venv/bin/pip" download --quiet --no-deps --only-binary=:all: --python-version "$version" \
    --no-index --find-links "$WORK/index" -d "$WORK/dl-$version" runqy-vault
  ls "$WORK/dl-$version"/*.whl >/dev/null
done
if out=$(run "$WORK/venv/bin/pip" download --no-deps --only-binary=:all: --python-version 3.9 \
  --no-index --find-links "$WORK/index" -d "$WORK/dl-3.9" runqy-vault 2>&1); then
  echo "test-wheel: pip accepted the wheel for CPython 3.9" >&2
  exit 1
fi
echo "$out" | grep -E "No matching distribution found for runqy-vault|Could not find a version" >&2
echo "wheel: ok ($(basename "$WHEEL"))"
