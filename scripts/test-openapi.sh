#!/usr/bin/env bash
# The OpenAPI document against the real server, with schemathesis:
#   scripts/test-openapi.sh [extra cargo build args, e.g. --locked]
#
# 1. installs schemathesis (pinned, PyPI) in a venv cached under
#    ${OUTREACH_CACHE_DIR:-$HOME/.cache/outreach}/schemathesis-venv (once; ~40 s cold);
# 2. builds `outreach` (debug) and copies it into a temp dir;
# 3. starts `outreach serve` on the embedded defaults (SQLite, local files, in-process
#    queue) in a temp data dir, on a free loopback port, with fake provider keys aimed
#    at a closed port (jobs fail fast, which is a state the document must describe too);
# 4. mints a token with `outreach token` and runs schemathesis over /api/openapi.json with a
#    fixed seed and a time budget: every phase (examples, coverage, fuzzing, stateful
#    through the document's links), checking that no response is a server error, every
#    status is documented, and every body matches its schema;
# 5. stops the server and removes the temp dir, whatever happens.
#
# OUTREACH_OPENAPI_MAX_TIME (seconds, default 60) bounds the fuzzing; OUTREACH_KEEP_TMP=1
# keeps the temp dir (server log, schemathesis report).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$(date +%s)
step() { printf '\n== %s\n' "$*"; }

SCHEMATHESIS_VERSION=4.32.5
cache=${OUTREACH_CACHE_DIR:-$HOME/.cache/outreach}
venv=$cache/schemathesis-venv
if [[ $("$venv/bin/schemathesis" --version 2>/dev/null) != *"$SCHEMATHESIS_VERSION"* ]]; then
    step "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    mkdir -p "$cache"
    python3 -m venv --clear "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

step "cargo build -p outreach-server"
cargo build -p outreach-server "$@" 2>&1 | tail -n 3
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

tmp=$(mktemp -d "${TMPDIR:-/tmp}/outreach-openapi.XXXXXX")
server_pid=
cleanup() {
    local status=$?
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ $status -ne 0 && -f $tmp/server.log ]]; then
        echo "--- last lines of the server log ($tmp/server.log)" >&2
        tail -n 30 "$tmp/server.log" >&2 || true
    fi
    if [[ ${OUTREACH_KEEP_TMP:-} == 1 ]]; then
        echo "kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$tmp/bin"
cp "$target_dir/debug/outreach" "$tmp/bin/"

# The embedded defaults only: nothing from the caller's environment may point the
# server at another database, queue, storage, auth or billing provider.
unset DATABASE_URL REDIS_URL STORAGE_URL SUPABASE_URL SUPABASE_ANON_KEY SUPABASE_JWT_SECRET \
    SUPABASE_JWT_ISS SUPABASE_JWT_AUD GROQ_API_KEY LLM_API_KEY OUTREACH_PLANS \
    STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET OUTREACH_CORS_ORIGINS
export OUTREACH_DATA_DIR=$tmp/data NO_COLOR=1
export SERPER_API_KEY=fuzz SERPER_URL=http://127.0.0.1:9/search \
    LLM_API_KEY=fuzz LLM_BASE_URL=http://127.0.0.1:9/v1
# Billing as hosted: webhooks are checked (a fuzzer's bodies fail the signature, 400).
# Without the secret the route answers a documented 503, which the fuzzer counts as a
# server error.
export STRIPE_WEBHOOK_SECRET=whsec_fuzz

step "starting outreach serve"
OUTREACH_FREE_CREDITS=100000 OUTREACH_WORKERS=1 RUST_LOG=${RUST_LOG:-info} \
    "$tmp/bin/outreach" serve --addr 127.0.0.1:0 >"$tmp/server.out" 2>"$tmp/server.log" &
server_pid=$!
for _ in $(seq 1 300); do
    grep -q "listening on" "$tmp/server.out" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { echo "outreach serve exited" >&2; exit 1; }
    sleep 0.1
done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$tmp/server.out" | head -n 1)
[[ -n $url ]] || { echo "outreach serve printed no URL" >&2; exit 1; }
token=$("$tmp/bin/outreach" token --email fuzz@example.com)
echo "server at $url"

# A real job, so the operations on /jobs/{id} reach their handlers instead of 404s.
printf 'email,name\nada@example.com,Ada\nbob@example.com,Bob\n' >"$tmp/prospects.csv"
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
file_path=$(curl -fsS -H "Authorization: Bearer $token" -F "file=@$tmp/prospects.csv" \
    "$url/api/files" | json_field file_path)
job_id=$(curl -fsS -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"file_path\": \"$file_path\"}" "$url/api/jobs" | json_field job_id)
cat >"$tmp/schemathesis.toml" <<TOML
[parameters]
"path.id" = "$job_id"
TOML
echo "job $job_id"

step "schemathesis over $url/api/openapi.json"
# Every check that is about the document being true; the seed makes the run repeatable.
# From the temp dir: schemathesis keeps a cache (.schemathesis/) in its working directory.
cd "$tmp"
"$venv/bin/schemathesis" --config-file "$tmp/schemathesis.toml" run "$url/api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --seed 20261130 \
    --max-examples "${OUTREACH_OPENAPI_MAX_EXAMPLES:-25}" \
    --max-time "${OUTREACH_OPENAPI_MAX_TIME:-60}" \
    --request-timeout 10 \
    --workers 1 \
    --report junit --report-dir "$tmp/report" \
    --suppress-health-check all

echo
echo "schemathesis found nothing in $(( $(date +%s) - started )) s"
