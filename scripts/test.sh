#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit, integration and CLI tests.
# This is the README's test command and what CI (`.ci/run`) calls.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (workspace)"
cargo test --workspace --all-targets --locked

step "doc tests"
cargo test --workspace --doc --locked

echo
echo "all tests passed"
