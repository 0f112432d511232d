#!/usr/bin/env bash
# Builds the Python binding (outreach-py) into a virtualenv and runs its pytest suite
# against local fake providers (no network, no keys).
#
#   scripts/test-python.sh [pytest args…]
#
# Needs Rust and Python ≥ 3.9 with venv + pip; everything else comes from PyPI.
# Environment:
#   PYTHON              interpreter for the venv (default: python3)
#   OUTREACH_PY_VENV    venv location (default: $CARGO_TARGET_DIR/py-venv, else target/py-venv)
#   OUTREACH_PY_RELEASE=1  build the extension optimised (slower build, faster runs)
#
# Timing on the 2-core dev machine: venv + packages ~20 s the first time (then skipped);
# `maturin develop` (debug) ~10 s when the workspace's debug build is warm (after
# `cargo test`), ~1.5 min cold; pytest ~16 s. `--release` builds take ~3 min cold.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n== %s\n' "$*"; }

python=${PYTHON:-python3}
target_dir=${CARGO_TARGET_DIR:-$root/target}
venv=${OUTREACH_PY_VENV:-$target_dir/py-venv}

"$python" - <<'EOF'
import sys
if sys.version_info < (3, 9):
    sys.exit(f"outreach-py needs Python >= 3.9, found {sys.version.split()[0]}")
EOF

# Loose pins: any compatible release works; the lower bounds are what was tested.
requirements=(
    "maturin>=1.16,<2"
    "pytest>=7"
    "pandas>=1.5"
    "mypy>=1.8"
    "tqdm>=4.60"
    "openpyxl>=3.1"
)
stamp="$venv/.outreach-requirements"
wanted=$(printf '%s\n' "${requirements[@]}")

if [[ ! -x "$venv/bin/python" ]]; then
    step "creating the virtualenv at $venv"
    "$python" -m venv "$venv"
fi
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
    step "installing build and test packages from PyPI"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
    printf '%s' "$wanted" >"$stamp"
fi

step "building and installing the extension (maturin develop)"
profile=()
if [[ "${OUTREACH_PY_RELEASE:-0}" == 1 ]]; then
    profile=(--release)
fi
started=$SECONDS
VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" CARGO_TARGET_DIR="$target_dir" \
    "$venv/bin/maturin" develop --locked "${profile[@]}" \
    --manifest-path outreach-py/Cargo.toml --quiet
echo "built in $((SECONDS - started)) s"

step "pytest (outreach-py/tests)"
cd outreach-py
"$venv/bin/python" -m pytest -q "$@"
