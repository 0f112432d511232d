#!/usr/bin/env bash
# The web app's end-to-end tests in headless Chromium:
#   scripts/test-browser.sh [extra cargo build args, e.g. --locked]
#   OUTREACH_BROWSER_TEST_ARGS='--test-name-pattern=phone' scripts/test-browser.sh
#
# 1. installs Debian's chromium if /usr/bin/chromium is missing (needs root);
# 2. installs the test dependencies (playwright-core, pinned) in outreach-server/web-tests;
# 3. builds `outreach` and the fake providers (debug) and copies both binaries into a
#    temp dir, so a concurrent build in a shared target dir cannot swap them mid-run;
# 4. starts the fake Serper/LLM servers (20 ms search, 50 ms LLM), a stand-in for
#    Instantly API v2 (web-tests/fake-instantly.mjs, 1 s per request so a push's
#    progress can be watched) and a real `outreach serve` on the embedded defaults
#    (SQLite, local files, in-process queue) in a temp data dir, on a free port,
#    pointed at the fakes, with a random OUTREACH_SECRETS_KEY so destination keys can
#    be saved; and a second one that signs people in through a stand-in for Supabase
#    Auth (web-tests/fake-supabase.mjs); every server writes its account mail
#    (verification and reset links) to $tmp/outbox.jsonl (OUTREACH_MAIL_OUTBOX), which
#    the tests read to follow the links;
# 5. runs the tests (node:test + playwright-core driving /usr/bin/chromium);
# 6. stops everything and removes the temp dir, whatever happens.
#
# Screenshots of every page go to outreach-server/web-tests/screenshots/ (git-ignored).
# OUTREACH_KEEP_TMP=1 keeps the temp dir (server log, data) for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
web_tests=$root/outreach-server/web-tests
started=$(date +%s)
step() { printf '\n== %s\n' "$*"; }

if [[ ! -x /usr/bin/chromium ]]; then
    step "installing Debian's chromium"
    if [[ $(id -u) -ne 0 ]]; then
        echo "/usr/bin/chromium is missing; install it as root: apt-get install -y chromium" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

step "npm ci (outreach-server/web-tests)"
(cd "$web_tests" && npm ci --no-audit --no-fund --loglevel=error)

step "cargo build -p outreach-server -p outreach-fake-providers"
cargo build -p outreach-server -p outreach-fake-providers "$@" 2>&1 | tail -n 3 || exit 1
target_dir=$(cargo metadata --format-version 1 --no-deps | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')

tmp=$(mktemp -d "${TMPDIR:-/tmp}/outreach-browser.XXXXXX")
pids=()
cleanup() {
    local status=$?
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
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
cp "$target_dir/debug/outreach" "$target_dir/debug/outreach-fake-providers" "$tmp/bin/"

# Waits until FILE has a line matching PATTERN (or the process PID has died).
wait_for_line() {
    local file=$1 pattern=$2 pid=$3
    for _ in $(seq 1 300); do
        if grep -q "$pattern" "$file" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "process $pid exited before printing /$pattern/:" >&2
            cat "$file" >&2 || true
            return 1
        fi
        sleep 0.1
    done
    echo "timed out waiting for /$pattern/ in $file" >&2
    return 1
}

step "starting the fake providers and outreach serve"
"$tmp/bin/outreach-fake-providers" 20 50 >"$tmp/fakes.env" 2>"$tmp/fakes.log" &
pids+=($!)
wait_for_line "$tmp/fakes.env" LLM_BASE_URL "${pids[-1]}"
# shellcheck disable=SC1091
source "$tmp/fakes.env"

# Starts `outreach serve` with the environment given as NAME=VALUE arguments, in the
# data dir $tmp/$1; sets $server_url.
start_server() {
    local name=$1
    shift
    env "$@" OUTREACH_DATA_DIR="$tmp/$name" OUTREACH_FREE_CREDITS=500 OUTREACH_WORKERS=1 \
        OUTREACH_MAIL_OUTBOX="$tmp/outbox.jsonl" \
        RUST_LOG="${RUST_LOG:-info}" NO_COLOR=1 \
        "$tmp/bin/outreach" serve --addr 127.0.0.1:0 >"$tmp/$name.out" 2>"$tmp/$name.log" &
    pids+=($!)
    wait_for_line "$tmp/$name.out" "listening on" "${pids[-1]}"
    server_url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$tmp/$name.out" | head -n 1)
    for _ in $(seq 1 100); do
        curl -fsS "$server_url/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$name did not become healthy at $server_url" >&2
    return 1
}

# The embedded defaults only: nothing from the caller's environment may point the
# servers at another database, queue, storage or auth provider.
unset DATABASE_URL REDIS_URL STORAGE_URL SUPABASE_URL SUPABASE_ANON_KEY SUPABASE_JWT_SECRET \
    SUPABASE_JWT_ISS SUPABASE_JWT_AUD GROQ_API_KEY OUTREACH_PLANS STRIPE_SECRET_KEY \
    OUTREACH_SECRETS_KEY INSTANTLY_URL SMARTLEAD_URL LEMLIST_URL HUBSPOT_URL

# The stand-in for Instantly that "Send to …" pushes to.
FAKE_INSTANTLY_DELAY_MS=1000 node "$web_tests/fake-instantly.mjs" >"$tmp/instantly.env" 2>"$tmp/instantly.log" &
pids+=($!)
wait_for_line "$tmp/instantly.env" INSTANTLY_URL "${pids[-1]}"
instantly_url=$(sed -n 's/^INSTANTLY_URL=//p' "$tmp/instantly.env")

secrets_key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
start_server server OUTREACH_SECRETS_KEY="$secrets_key" INSTANTLY_URL="$instantly_url"
base_url=$server_url
echo "server at $base_url (built-in sign-in; data in $tmp/server; Instantly at $instantly_url)"

# A second server that signs people in through (a stand-in for) Supabase Auth.
supabase_secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
SUPABASE_JWT_SECRET=$supabase_secret SUPABASE_ANON_KEY=fake-anon-key \
    node "$web_tests/fake-supabase.mjs" >"$tmp/supabase.env" 2>"$tmp/supabase.log" &
pids+=($!)
wait_for_line "$tmp/supabase.env" SUPABASE_URL "${pids[-1]}"
supabase_url=$(sed -n 's/^SUPABASE_URL=//p' "$tmp/supabase.env")
start_server supabase-server SUPABASE_URL="$supabase_url" SUPABASE_ANON_KEY=fake-anon-key \
    SUPABASE_JWT_SECRET="$supabase_secret" SUPABASE_JWT_ISS="$supabase_url/auth/v1"
supabase_base_url=$server_url
echo "server at $supabase_base_url (Supabase sign-in at $supabase_url)"

# A third server whose fake providers answer slowly (400 ms search, 1 s LLM): a
# 50-row job there runs for several seconds, so the progress test sees values between
# 0 and 100 (the job reports rows done about once a second).
"$tmp/bin/outreach-fake-providers" 400 1000 >"$tmp/slow-fakes.env" 2>"$tmp/slow-fakes.log" &
pids+=($!)
wait_for_line "$tmp/slow-fakes.env" LLM_BASE_URL "${pids[-1]}"
slow_serper=$(sed -n 's/^export SERPER_URL=\([^ ]*\).*/\1/p' "$tmp/slow-fakes.env")
slow_llm=$(sed -n 's/^export LLM_BASE_URL=\([^ ]*\).*/\1/p' "$tmp/slow-fakes.env")
start_server slow-server SERPER_URL="$slow_serper" LLM_BASE_URL="$slow_llm"
slow_base_url=$server_url
echo "server at $slow_base_url (slow providers)"

step "browser tests (headless chromium)"
tests_started=$(date +%s)
(cd "$web_tests" && OUTREACH_BASE_URL=$base_url OUTREACH_SUPABASE_BASE_URL=$supabase_base_url \
    OUTREACH_SLOW_BASE_URL=$slow_base_url OUTREACH_FAKE_INSTANTLY_URL=$instantly_url \
    OUTREACH_REPO=$root OUTREACH_MAIL_OUTBOX="$tmp/outbox.jsonl" \
    node --test --test-concurrency=1 --test-reporter=spec ${OUTREACH_BROWSER_TEST_ARGS:-} tests/)
echo
echo "browser tests passed in $(( $(date +%s) - tests_started )) s (script total $(( $(date +%s) - started )) s)"
echo "screenshots: $web_tests/screenshots/"
