#!/usr/bin/env bash
# The LLM adapter and a whole run against a real OpenAI-compatible server with a real
# model (llama.cpp via llama-cpp-python, SmolLM2-135M-Instruct):
#   scripts/test-llm-real.sh [extra cargo args, e.g. --locked]
#
# 1. starts the server (scripts/services/llama.sh; the first run installs it, which
#    compiles llama.cpp: ~10 min on 2 cores, cached under ~/.cache/outreach after);
# 2. runs `cargo test -p outreach-core --test providers_llm_real` (JSON-form negotiation,
#    grammar-enforced schema replies, remembered adaptations);
# 3. builds `outreach` and the fake providers, and enriches a small CSV with the fake
#    Serper for search and the real server for the LLM; checks that the run completes,
#    that the log names the negotiated JSON form, and that every row is either enriched
#    or carries an explicit fallback reason;
# 4. runs `outreach check` (the preflight's diagnosis) against the same servers: both
#    providers ok (exit 0), then with a model name the server does not serve: the LLM
#    reported failed with that model named (llama-cpp-python answers any name with its
#    own model; the check compares the name with the server's `GET /models`), exit 1;
# 5. stops everything, whatever happens.
# If OUTREACH_TEST_LLM_URL is already set, that server is used and nothing is started.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n== %s\n' "$*"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/outreach-llm-real.XXXXXX")
fake_pid=
llama_port=
cleanup() {
    local status=$?
    if [[ -n $fake_pid ]]; then
        kill "$fake_pid" 2>/dev/null || true
        wait "$fake_pid" 2>/dev/null || true
    fi
    if [[ -n $llama_port ]]; then
        scripts/services/llama.sh stop "$llama_port" || true
    fi
    if [[ $status -ne 0 && -f $tmp/enrich.log ]]; then
        echo "--- last lines of the enrich log ($tmp/enrich.log)" >&2
        tail -n 30 "$tmp/enrich.log" >&2 || true
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

if [[ -z ${OUTREACH_TEST_LLM_URL:-} ]]; then
    step "starting llama.cpp's server (llama-cpp-python) with SmolLM2-135M-Instruct"
    llama_env=$(scripts/services/llama.sh start)
    eval "$llama_env"
    [[ $OUTREACH_TEST_LLM_URL =~ :([0-9]+)/ ]] && llama_port=${BASH_REMATCH[1]}
fi
export OUTREACH_TEST_LLM_URL OUTREACH_TEST_LLM_MODEL

step "cargo test -p outreach-core --test providers_llm_real"
cargo test -p outreach-core --test providers_llm_real "$@"

step "cargo build -p outreach-server -p outreach-fake-providers"
cargo build -p outreach-server -p outreach-fake-providers "$@" 2>&1 | tail -n 3
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
cp "$target_dir/debug/outreach" "$target_dir/debug/outreach-fake-providers" "$tmp/"

step "a small file through the real server (search: the fake Serper)"
"$tmp/outreach-fake-providers" 0 0 >"$tmp/fakes.env" 2>"$tmp/fakes.log" &
fake_pid=$!
for _ in $(seq 1 100); do
    grep -q SERPER_URL "$tmp/fakes.env" 2>/dev/null && break
    sleep 0.1
done
serper_url=$(sed -n 's/^export SERPER_URL=\([^ ]*\) .*/\1/p' "$tmp/fakes.env")
[[ -n $serper_url ]] || { echo "the fake providers did not start" >&2; cat "$tmp/fakes.log" >&2; exit 1; }

cat >"$tmp/prospects.csv" <<'CSV'
email,first_name,company
jane.doe@acme.io,Jane,Acme
not-an-email,Nobody,
CSV

# One request at a time: the server has one slot, and queued requests would only
# wait out their timeouts. A 135M model on two cores takes seconds per call, minutes
# when the machine is busy compiling: a generous timeout. One researchable row: with
# the research schema as a grammar llama-cpp-python samples 1-3 tokens a second under
# load and the model fills its whole budget (999 tokens, 315 s for one call, measured
# 2026-11-30), so each row costs minutes; one row exercises the same path.
env -u GROQ_API_KEY \
    SERPER_URL="$serper_url" SERPER_API_KEY=fake \
    LLM_BASE_URL="$OUTREACH_TEST_LLM_URL" LLM_API_KEY=none LLM_MODEL="$OUTREACH_TEST_LLM_MODEL" \
    OUTREACH_LLM_CONCURRENCY=1 OUTREACH_LLM_TIMEOUT_SECS="${OUTREACH_LLM_TIMEOUT_SECS:-300}" \
    OUTREACH_DATA_DIR="$tmp/data" \
    RUST_LOG="${RUST_LOG:-warn,outreach_core::providers=info}" \
    "$tmp/outreach" enrich "$tmp/prospects.csv" -o "$tmp/out.csv" 2>"$tmp/enrich.log"

if ! grep -q 'json_object+schema' "$tmp/enrich.log"; then
    echo "the log does not name the negotiated JSON form (json_object+schema)" >&2
    exit 1
fi
python3 - "$tmp/prospects.csv" "$tmp/out.csv" <<'PY'
import csv, json, sys
inp = list(csv.DictReader(open(sys.argv[1], newline="")))
out = list(csv.DictReader(open(sys.argv[2], newline="")))
assert len(out) == len(inp), f"{len(out)} rows out, {len(inp)} in"
counts = {}
for i, (a, b) in enumerate(zip(inp, out)):
    assert b["email"] == a["email"], f"row {i}: order changed"
    research, line = b["sif_research"], b["sif_personalized"]
    research_fell_back = research.startswith("Research unavailable:")
    line_fell_back = line.startswith("SIF personalized line unavailable:")
    if research_fell_back or line_fell_back:
        # A fallback says why, in the documented words, with a reason after the colon.
        reason = (research if research_fell_back else line).split(":", 1)[1].strip()
        assert reason, f"row {i}: a fallback without a reason"
        kind = "fallback: " + reason
    else:
        json.loads(research)  # the research cell is JSON
        assert line.strip(), f"row {i}: enriched without an opener"
        kind = "enriched"
    if "sif_status" in b:
        kind += f" ({b['sif_status']})"
    counts[kind] = counts.get(kind, 0) + 1
assert out[1]["sif_research"] == "Research unavailable: invalid email.", out[1]
print("rows:", counts)
PY

step "outreach check against the real server (the preflight's diagnosis)"
check() {
    env -u GROQ_API_KEY \
        SERPER_URL="$serper_url" SERPER_API_KEY=fake \
        LLM_BASE_URL="$OUTREACH_TEST_LLM_URL" LLM_API_KEY=none LLM_MODEL="$1" \
        OUTREACH_LLM_TIMEOUT_SECS="${OUTREACH_LLM_TIMEOUT_SECS:-300}" \
        OUTREACH_DATA_DIR="$tmp/data" \
        "$tmp/outreach" check --json >"$tmp/check-$2.json" 2>"$tmp/check-$2.log"
}
check_status=0
check "$OUTREACH_TEST_LLM_MODEL" good || check_status=$?
[[ $check_status -eq 0 ]] || { echo "outreach check exited $check_status" >&2; cat "$tmp/check-good.json" "$tmp/check-good.log" >&2; exit 1; }
check_status=0
check no-such-model wrong || check_status=$?
[[ $check_status -eq 1 ]] || { echo "outreach check with a wrong model exited $check_status, not 1" >&2; cat "$tmp/check-wrong.json" "$tmp/check-wrong.log" >&2; exit 1; }
python3 - "$tmp/check-good.json" "$tmp/check-wrong.json" "$OUTREACH_TEST_LLM_MODEL" <<'PY'
import json, sys
good, wrong, model = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
assert good["search"]["status"] == "ok", good
assert good["llm"]["status"] == "ok", good
assert f"`{model}` answered" in good["llm"]["message"], good
assert "json_object+schema" in good["llm"]["json"], good
assert wrong["search"]["status"] == "ok", wrong
assert wrong["llm"]["status"] == "failed", wrong
message = wrong["llm"]["message"]
assert "does not know the model `no-such-model`" in message and model in message, message
print("check:", good["llm"]["message"], "|", message)
PY

echo
echo "LLM real-server tests passed in $(( $(date +%s) - started )) s"
