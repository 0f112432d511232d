#!/usr/bin/env bash
# /metrics against the Prometheus linter: installs promtool (Debian's `prometheus`
# package, once, ~20 s; no server is started) and runs outreach-server's `metrics` test,
# which runs a job, checks that the counters moved, and pipes the exposition through
# `promtool check metrics`.
#
#   scripts/test-metrics.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'test-metrics.sh: %s\n' "$*" >&2; }

promtool="$(command -v promtool || true)"
if [[ -z "$promtool" ]]; then
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    log "promtool not found; install it (Debian: apt-get install prometheus) or put it on PATH"
    exit 1
  fi
  log "installing promtool (Debian package prometheus) with apt-get (once)"
  # The package's service is never started here (no init system in CI containers).
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >&2 \
    || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >&2; }
  promtool="$(command -v promtool)"
fi
export OUTREACH_PROMTOOL="$promtool"
cargo test -p outreach-server --test metrics "$@"
