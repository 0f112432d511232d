#!/usr/bin/env bash
# Scale-out fault tests against real servers: starts PostgreSQL, Redis and an S3
# emulator (moto) on loopback, then runs outreach-server's `scale` tests, which start
# `outreach worker` processes against them (SIGKILL one of two workers mid-job; restart
# Redis, then PostgreSQL, mid-job; 100 concurrent job creations on PostgreSQL), and the
# `worker_tasks` test (a worker process runs a job and a push and sends each webhook
# event once).
#
#   scripts/test-scale.sh [extra cargo test args]
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
trap 'exit 130' INT
trap 'exit 143' TERM

eval "$("$services/postgres.sh" start)"
pg_dir="$OUTREACH_TEST_POSTGRES_DIR"
eval "$("$services/redis.sh" start)"
redis_url="$OUTREACH_TEST_REDIS_URL"
eval "$("$services/moto.sh" start)"
s3_endpoint="$AWS_ENDPOINT_URL"
export OUTREACH_TEST_POSTGRES_URL OUTREACH_TEST_POSTGRES_DIR OUTREACH_TEST_REDIS_URL OUTREACH_TEST_S3_URL \
  AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_ALLOW_HTTP

# The fault tests restart shared servers: run them one at a time.
cargo test -p outreach-server --test scale --test worker_tasks "$@" -- --test-threads=1
