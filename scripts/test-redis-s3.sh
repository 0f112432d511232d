#!/usr/bin/env bash
# The Redis queue / rate limiter and S3 storage tests against real servers: starts a
# throwaway Redis, a TLS-only Redis (rediss://) and moto (S3), runs the test targets
# with the `redis` and `s3` features, and stops the servers however the tests end.
#
#   scripts/test-redis-s3.sh [extra cargo test args, e.g. -- --nocapture]
#
# First run: installs redis-server with apt-get (as root, ~6 s) and moto into a venv
# (~45 s); later runs reuse them.
set -euo pipefail
cd "$(dirname "$0")/.."

services=scripts/services
redis_url=""
redis_tls_url=""
s3_endpoint=""

cleanup() {
  local status=$?
  if [[ -n "$redis_url" ]]; then
    OUTREACH_TEST_REDIS_URL="$redis_url" "$services/redis.sh" stop || true
  fi
  if [[ -n "$redis_tls_url" ]]; then
    OUTREACH_TEST_REDIS_TLS_URL="$redis_tls_url" "$services/redis-tls.sh" stop || true
  fi
  if [[ -n "$s3_endpoint" ]]; then
    AWS_ENDPOINT_URL="$s3_endpoint" "$services/moto.sh" stop || true
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

redis_env="$("$services/redis.sh" start)"
eval "$redis_env"
redis_url="$OUTREACH_TEST_REDIS_URL"

# A second Redis that speaks only TLS (a throwaway CA and certificate), for rediss://.
eval "$("$services/redis-tls.sh" start)"
redis_tls_url="$OUTREACH_TEST_REDIS_TLS_URL"
export OUTREACH_TEST_REDIS_TLS_URL OUTREACH_TEST_REDIS_TLS_CA

s3_env="$("$services/moto.sh" start)"
eval "$s3_env"
s3_endpoint="$AWS_ENDPOINT_URL"

cargo test -p outreach-core --features redis,s3 --test redis_queue --test redis_tls --test s3_storage --test push_tasks "$@"
