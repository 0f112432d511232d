#!/usr/bin/env bash
# The container image and compose file, as far as a machine without an image registry
# allows:
#
# 1. installs Debian's docker.io, debootstrap and docker-compose (apt, once) and starts
#    `dockerd --bridge=none --iptables=false` (host network only) unless a daemon answers;
# 2. makes a Debian bookworm base image with debootstrap + `docker import` (the rootfs
#    tarball is cached in ${OUTREACH_CACHE_DIR:-~/.cache/outreach}/docker);
# 3. builds the Dockerfile's `prebuilt` target: its runtime stage (non-root user, health
#    check, `outreach` entrypoint, `serve` by default) around the debug `outreach` binary
#    the test run already built, instead of the `build` stage (which needs the official
#    Rust image from Docker Hub);
# 4. starts PostgreSQL, Redis, moto (S3) and the fake providers on loopback (the same
#    scripts as the other suites), then, each in a container on the host network:
#    `outreach migrate`, `outreach serve` (API only) and `outreach worker`; waits until
#    Docker reports both healthy (the image's HEALTHCHECK), signs up, uploads a 12-row
#    CSV, runs the job, checks the download (every row, in order, enriched by the
#    worker container) and the worker's /metrics, then stops the worker with SIGTERM
#    and checks that it exits cleanly within its grace period;
# 5. validates compose.yaml (`docker-compose config`; every outreach setting in it is a
#    name the code reads), deploy/prometheus/prometheus.yml (`promtool check config`)
#    and the Grafana dashboard (JSON; every series it queries is one the code defines).
#
#   scripts/test-docker.sh [extra cargo build args, e.g. --locked]
#   OUTREACH_KEEP_TMP=1 scripts/test-docker.sh      # keep logs and data afterwards
#
# Times on this machine (2 cores, binaries already built): cold ~3.5 min (apt ~15 s,
# debootstrap ~2 min, tarball + import ~30 s, image build ~20 s, the run ~25 s); warm
# ~35 s. Containers, the daemon it started and the servers are stopped whatever happens;
# the images and the base tarball stay cached.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$(date +%s)
step() { printf '\n== %s\n' "$*"; }
log() { printf 'test-docker.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

cache="${OUTREACH_CACHE_DIR:-$HOME/.cache/outreach}/docker"
mkdir -p "$cache"
services=scripts/services
base_image=outreach-test-base:bookworm
image=outreach:test
# Containers of this run carry this label, so cleanup removes exactly them.
run_label="outreach-test-docker=$$"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/outreach-docker.XXXXXX")
pids=()
dockerd_pid=""
pg_dir="" redis_url="" s3_endpoint=""
cleanup() {
    local status=$?
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        local ids
        ids=$(docker ps -aq --filter "label=$run_label" 2>/dev/null || true)
        if [[ -n "$ids" ]]; then
            if [[ $status -ne 0 ]]; then
                for id in $ids; do
                    echo "--- logs of container $(docker inspect -f '{{.Name}}' "$id" 2>/dev/null)" >&2
                    docker logs --tail 30 "$id" >&2 2>&1 || true
                done
            fi
            # shellcheck disable=SC2086
            docker rm -f -v $ids >/dev/null 2>&1 || true
        fi
    fi
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    [[ -n "$pg_dir" ]] && { "$services/postgres.sh" stop "$pg_dir" >&2 || true; }
    [[ -n "$redis_url" ]] && { OUTREACH_TEST_REDIS_URL="$redis_url" "$services/redis.sh" stop >&2 || true; }
    [[ -n "$s3_endpoint" ]] && { AWS_ENDPOINT_URL="$s3_endpoint" "$services/moto.sh" stop >&2 || true; }
    if [[ -n "$dockerd_pid" ]]; then
        kill "$dockerd_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
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

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

apt_install() {
    [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null || die "need root and apt-get to install: $*"
    log "installing $* with apt-get (once)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$@" >&2 ||
        { apt-get update -q >&2 && apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$@" >&2; }
}

step "docker daemon (host network only)"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v promtool >/dev/null || missing+=(prometheus)
[[ ${#missing[@]} -eq 0 ]] || apt_install "${missing[@]}"
if ! docker info >/dev/null 2>&1; then
    # No bridge and no iptables: this machine (a container itself) has neither; every
    # container of the test uses the host network.
    setsid dockerd --bridge=none --iptables=false >"$tmp/dockerd.log" 2>&1 </dev/null &
    dockerd_pid=$!
    for _ in $(seq 1 300); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$dockerd_pid" 2>/dev/null || { cat "$tmp/dockerd.log" >&2; die "dockerd exited"; }
        sleep 0.1
    done
    docker info >/dev/null 2>&1 || die "dockerd did not answer within 30 s"
    log "started dockerd (pid $dockerd_pid)"
fi
docker version --format 'docker server {{.Server.Version}}' 2>/dev/null || true

step "base image $base_image (debootstrap + docker import, cached)"
if ! docker image inspect "$base_image" >/dev/null 2>&1; then
    tarball="$cache/debian-bookworm-minbase.tar.gz"
    exec 9>"$cache/debootstrap.lock"
    flock 9
    if [[ ! -s "$tarball" ]]; then
        log "debootstrap bookworm (minbase) into a temporary rootfs (once; about 2 minutes)"
        rootfs="$tmp/rootfs"
        debootstrap --variant=minbase bookworm "$rootfs" "${OUTREACH_DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
            >"$tmp/debootstrap.log" 2>&1 || { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        tar -C "$rootfs" --numeric-owner -czf "$tarball.partial" .
        mv "$tarball.partial" "$tarball"
        rm -rf "$rootfs"
    fi
    flock -u 9
    exec 9>&-
    docker import --change 'CMD ["/bin/bash"]' "$tarball" "$base_image" >/dev/null
fi
docker image inspect -f 'base image {{.Id}} ({{.Size}} bytes)' "$base_image"

step "outreach binaries (debug; the test run has built them already)"
cargo build -p outreach-server -p outreach-fake-providers "$@" 2>&1 | tail -n 2
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
context="$tmp/context"
mkdir -p "$context" "$tmp/bin"
# Copies, so a concurrent build in a shared target dir cannot swap them mid-run.
cp "$target_dir/debug/outreach" "$context/outreach"
cp "$target_dir/debug/outreach-fake-providers" "$tmp/bin/"

step "docker build --target prebuilt (the Dockerfile's runtime stage around that binary)"
build_started=$(date +%s)
# The legacy builder resolves FROM against local images (no registry here); --network
# host lets the runtime stage's apt-get reach Debian's mirror. Cached after the first run.
DOCKER_BUILDKIT=0 docker build --network host -q -f "$root/Dockerfile" --target prebuilt \
    --build-arg "RUNTIME_BASE=$base_image" -t "$image" "$context" >/dev/null
echo "built $image in $(( $(date +%s) - build_started )) s"
[[ $(docker image inspect -f '{{.Config.User}}' "$image") == outreach ]] || die "the image does not run as the outreach user"
[[ $(docker image inspect -f '{{json .Config.Cmd}}' "$image") == '["serve"]' ]] || die "the image's default command is not serve"
docker image inspect -f '{{json .Config.Healthcheck.Test}}' "$image" | grep -q '"outreach","healthcheck"' ||
    die "the image has no HEALTHCHECK"

step "PostgreSQL, Redis, S3 (moto) and the fake providers on loopback"
eval "$("$services/postgres.sh" start)"
pg_dir="$OUTREACH_TEST_POSTGRES_DIR"
eval "$("$services/redis.sh" start)"
redis_url="$OUTREACH_TEST_REDIS_URL"
eval "$("$services/moto.sh" start)"
s3_endpoint="$AWS_ENDPOINT_URL"
"$tmp/bin/outreach-fake-providers" 5 10 >"$tmp/fakes.env" 2>"$tmp/fakes.log" &
pids+=($!)
for _ in $(seq 1 300); do grep -q LLM_BASE_URL "$tmp/fakes.env" && break; sleep 0.1; done
grep -q LLM_BASE_URL "$tmp/fakes.env" || die "the fake providers did not start"
# shellcheck disable=SC1091
source "$tmp/fakes.env"

api_port=$(free_port)
metrics_port=$(free_port)
env_args=(
    -e "DATABASE_URL=$OUTREACH_TEST_POSTGRES_URL"
    -e "REDIS_URL=$OUTREACH_TEST_REDIS_URL"
    -e "STORAGE_URL=$OUTREACH_TEST_S3_URL"
    -e "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL" -e "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID"
    -e "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY" -e "AWS_REGION=$AWS_REGION"
    -e "AWS_ALLOW_HTTP=$AWS_ALLOW_HTTP"
    -e "SERPER_URL=$SERPER_URL" -e "SERPER_API_KEY=$SERPER_API_KEY"
    -e "LLM_BASE_URL=$LLM_BASE_URL" -e "LLM_API_KEY=$LLM_API_KEY" -e "LLM_MODEL=fake-model"
    -e "OUTREACH_CHUNK_SIZE=5" -e "RUST_LOG=info"
)
run() { # NAME ARGS... : a container of this run on the host network
    local name=$1
    shift
    docker run --label "$run_label" --name "outreach-test-$name-$$" --network host "$@"
}

step "outreach migrate, serve and worker in containers"
run migrate --rm "${env_args[@]}" "$image" migrate
# serve gets its address as a flag (the image's OUTREACH_ADDR says 0.0.0.0:8080): the
# health check must ask the port the flag names.
run serve -d "${env_args[@]}" -e OUTREACH_WORKERS=0 \
    -e OUTREACH_FREE_CREDITS=100 -e OUTREACH_MAIL_OUTBOX=/data/outbox.jsonl --health-interval 1s --health-start-period 30s "$image" \
    serve --addr "127.0.0.1:$api_port" >/dev/null
run worker -d "${env_args[@]}" -e "OUTREACH_METRICS_ADDR=127.0.0.1:$metrics_port" \
    --health-interval 1s --health-start-period 30s "$image" worker >/dev/null
wait_healthy() { # NAME
    local c="outreach-test-$1-$$" state=""
    for _ in $(seq 1 600); do
        state=$(docker inspect -f '{{.State.Status}} {{.State.Health.Status}}' "$c")
        [[ $state == "running healthy" ]] && { echo "$1: $state"; return 0; }
        [[ $state == running* ]] || die "$1 is $state"
        sleep 0.1
    done
    die "$1 not healthy within 60 s ($state)"
}
wait_healthy serve
wait_healthy worker
# The check has to be able to fail: the worker's health check asks OUTREACH_METRICS_ADDR.
docker exec "outreach-test-worker-$$" outreach healthcheck
docker exec -e OUTREACH_METRICS_ADDR=127.0.0.1:1 "outreach-test-worker-$$" outreach healthcheck 2>/dev/null &&
    die "the health check passed against a closed port"

step "a 12-row job through the containers"
api="http://127.0.0.1:$api_port"
token=$(curl -fsS -H 'content-type: application/json' \
    -d '{"email":"docker@example.com","password":"docker-test-password"}' "$api/auth/signup" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
auth=(-H "authorization: Bearer $token")
# The free credits come with the verification link, mailed to the container's outbox.
link=""
for _ in $(seq 1 50); do
    link=$(docker exec "outreach-test-serve-$$" cat /data/outbox.jsonl 2>/dev/null |
        python3 -c 'import json,sys; print(([json.loads(l)["link"] for l in sys.stdin if l.strip()] or [""])[-1])')
    [[ -n $link ]] && break
    sleep 0.1
done
[[ -n $link ]] || die "no verification mail in the serve container's outbox"
curl -fsS -H 'content-type: application/json' -d "{\"token\":\"${link#*token=}\"}" "$api/auth/verify" >/dev/null
{
    echo "email,first_name,company"
    for i in $(seq 1 12); do echo "person$i@company$i.example,Person$i,Company $i"; done
} >"$tmp/prospects.csv"
file_path=$(curl -fsS "${auth[@]}" -F "file=@$tmp/prospects.csv;type=text/csv" "$api/files" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["file_path"])')
job_id=$(curl -fsS "${auth[@]}" -H 'content-type: application/json' \
    -d "{\"file_path\":\"$file_path\",\"email_col\":\"email\",\"format\":\"csv\"}" "$api/jobs" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
status=""
for _ in $(seq 1 600); do
    status=$(curl -fsS "${auth[@]}" "$api/jobs/$job_id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    [[ $status == succeeded || $status == failed || $status == cancelled ]] && break
    sleep 0.2
done
[[ $status == succeeded ]] || die "job $job_id is $status"
curl -fsS "${auth[@]}" "$api/jobs/$job_id/download" -o "$tmp/result.csv"
python3 - "$tmp/prospects.csv" "$tmp/result.csv" <<'PY'
import csv, sys
inp = list(csv.DictReader(open(sys.argv[1], newline="")))
out = list(csv.DictReader(open(sys.argv[2], newline="")))
assert [r["email"] for r in out] == [r["email"] for r in inp], "rows missing or out of order"
statuses = {r["sif_status"] for r in out}
assert statuses == {"enriched"}, f"statuses {statuses}"
assert all(r["sif_personalized"].strip() for r in out), "an empty opener"
print(f"{len(out)} rows back in order, all enriched")
PY
metrics=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics")
# serve runs no worker loop: the chunks ran in the worker container.
chunks=$(awk '/^outreach_tasks_total\{/ && /task="chunk"/ && /outcome="ok"/ {n += $NF} END {print n + 0}' <<<"$metrics")
[[ $chunks -ge 3 ]] || die "the worker's /metrics counts $chunks chunk tasks, expected 3 (12 rows / 5)"
echo "worker container ran $chunks chunk tasks (its /metrics)"

step "docker stop worker (SIGTERM): clean exit within the grace period"
stop_started=$(date +%s)
docker stop -t 20 "outreach-test-worker-$$" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "outreach-test-worker-$$")
took=$(( $(date +%s) - stop_started ))
[[ $code -eq 0 ]] || die "the worker exited with $code after SIGTERM"
[[ $took -lt 15 ]] || die "the worker took $took s to stop"
echo "worker exited 0 in $took s"

step "compose.yaml, prometheus.yml and the Grafana dashboard"
# Settings interpolated from the environment must not leak in from the caller's shell.
env -i PATH="$PATH" HOME="$HOME" docker-compose -f compose.yaml config -q
env -i PATH="$PATH" HOME="$HOME" docker-compose -f compose.yaml config --services | sort | tr '\n' ' '
echo
# Every outreach setting compose.yaml passes is a name the code reads.
python3 - <<'PY'
import pathlib, re, subprocess, sys
compose = pathlib.Path("compose.yaml").read_text()
names = set(re.findall(r"^\s+((?:OUTREACH|AWS|SUPABASE|STRIPE|LLM|GROQ|SERPER|REDIS|DATABASE|STORAGE)_[A-Z_]*|RUST_LOG):", compose, re.M))
code = subprocess.run(["grep", "-rhoE", r'"[A-Z][A-Z0-9_]+"', "outreach-core/src", "outreach-server/src"],
                      capture_output=True, text=True, check=True).stdout
known = {n.strip('"') for n in code.split()} | {"RUST_LOG"}
unknown = sorted(names - known)
assert not unknown, f"compose.yaml sets names the code never reads: {unknown}"
print(f"compose.yaml: {len(names)} outreach settings, all read by the code")
PY
promtool check config deploy/prometheus/prometheus.yml
python3 - <<'PY'
import json, pathlib, re
dash = json.loads(pathlib.Path("deploy/grafana/outreach.json").read_text())
exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
used = {re.sub(r"_(bucket|count|sum)$", "", m) for e in exprs for m in re.findall(r"\boutreach_[a-z_]+", e)}
src = pathlib.Path("outreach-core/src/telemetry.rs").read_text() + pathlib.Path("outreach-server/src/metrics_exporter.rs").read_text()
defined = set(re.findall(r'"(outreach_[a-z_]+)"', src))
missing = sorted(used - defined)
assert not missing, f"the dashboard queries series the code does not define: {missing}"
unused = sorted(defined - used)
if unused:
    print(f"note: series without a dashboard panel yet: {unused}")
print(f"dashboard: {len(dash['panels'])} panels over {len(used)} series, all defined")
PY

echo
echo "docker tests passed in $(( $(date +%s) - started )) s"
