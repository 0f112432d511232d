#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit, integration and CLI tests, and
# the backend suites against real servers (PostgreSQL, Redis, S3 emulator, llama.cpp's
# OpenAI-compatible server with a real model) that the
# scripts under scripts/services/ install and start on loopback.
# This is the README's test command and what CI (`.ci/run`) calls.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
started=$(date +%s)

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, all backend features, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p outreach-core --all-targets --all-features --locked -- -D warnings
cargo clippy -p outreach-server --all-targets --all-features --locked -- -D warnings

step "cargo test (workspace; the real-server suites run in their own steps below)"
OUTREACH_SKIP_SERVICES=1 cargo test --workspace --all-targets --locked

step "doc tests"
cargo test --workspace --doc --locked

step "PostgreSQL backend against a real server"
./scripts/test-postgres.sh

step "Redis queue + shared rate limiter, S3 storage, against real servers"
./scripts/test-redis-s3.sh

step "Scale-out fault tests: outreach worker processes on PostgreSQL + Redis + S3"
./scripts/test-scale.sh

step "/metrics: counters move as a job runs; the exposition passes promtool check metrics"
./scripts/test-metrics.sh

step "Container image (Dockerfile) run against the real servers; compose.yaml, Prometheus and Grafana files checked"
./scripts/test-docker.sh --locked

# Cold: installs llama-cpp-python (compiles llama.cpp, ~10 min on 2 quiet cores; over an
# hour when the machine is saturated) into ~/.cache/outreach; warm: seconds to start, then
# the model's calls (seconds each on a quiet machine).
step "LLM adapter and a run against a real model (llama.cpp server, SmolLM2-135M)"
./scripts/test-llm-real.sh --locked

step "Python binding (wheel built into a venv, pytest)"
./scripts/test-python.sh

step "Web app end to end in headless Chromium (real outreach serve, fake providers)"
./scripts/test-browser.sh

step "OpenAPI document against a real outreach serve (schemathesis: no server error, no schema violation)"
./scripts/test-openapi.sh

echo
echo "all tests passed in $(( $(date +%s) - started )) s"
