#!/usr/bin/env bash
# The scale-out benchmark: starts PostgreSQL, Redis and moto, builds the release
# `outreach` binary, and runs benches/benches/workers.rs (1, 2 and 4 worker processes).
set -euo pipefail
cd "$(dirname "$0")/.."
services=scripts/services
pg_dir="" redis_url="" s3_endpoint=""
cleanup() {
  local status=$?
  [[ -n "$pg_dir" ]] && "$services/postgres.sh" stop "$pg_dir" >&2 || true
  [[ -n "$redis_url" ]] && OUTREACH_TEST_REDIS_URL="$redis_url" "$services/redis.sh" stop >&2 || true
  [[ -n "$s3_endpoint" ]] && AWS_ENDPOINT_URL="$s3_endpoint" "$services/moto.sh" stop >&2 || true
  exit "$status"
}
trap cleanup EXIT
eval "$("$services/postgres.sh" start)"; pg_dir="$OUTREACH_TEST_POSTGRES_DIR"
eval "$("$services/redis.sh" start)"; redis_url="$OUTREACH_TEST_REDIS_URL"
eval "$("$services/moto.sh" start)"; s3_endpoint="$AWS_ENDPOINT_URL"
export OUTREACH_TEST_POSTGRES_URL OUTREACH_TEST_REDIS_URL OUTREACH_TEST_S3_URL \
  AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_ALLOW_HTTP
cargo build --release -p outreach-server
cargo bench -p outreach-benches --bench workers
