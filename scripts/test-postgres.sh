#!/usr/bin/env bash
# The PostgreSQL backend's tests against a throwaway server:
#   scripts/test-postgres.sh [extra cargo test args, e.g. --locked]
# starts PostgreSQL (scripts/services/postgres.sh), runs
#   cargo test -p outreach-core --features postgres --test postgres_ports
# and stops the server (and removes its directory) whatever happens. If
# OUTREACH_TEST_POSTGRES_URL is already set, that server is used and nothing is started
# (tests that restart a server still start their own, next to it or in $TMPDIR).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z ${OUTREACH_TEST_POSTGRES_URL:-} ]]; then
    pg_env=$(scripts/services/postgres.sh start)
    eval "$pg_env"
    pg_dir=$OUTREACH_TEST_POSTGRES_DIR
    cleanup() { scripts/services/postgres.sh stop "$pg_dir" || true; }
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
fi

cargo test -p outreach-core --features postgres --test postgres_ports "$@"
cargo test -p outreach-server --features postgres --test api_postgres "$@"
