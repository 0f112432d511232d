#!/usr/bin/env bash
# A throwaway S3-compatible server for tests: moto_server (PyPI `moto[server]`) on a free
# loopback port, with the bucket `outreach-test`.
#
#   eval "$(scripts/services/moto.sh)"      # start; prints one export line (below)
#   scripts/services/moto.sh stop [PORT]    # stop; PORT defaults to the one in AWS_ENDPOINT_URL
#
# Prints: export OUTREACH_TEST_S3_URL=s3://outreach-test AWS_ENDPOINT_URL=http://127.0.0.1:N
#         AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true
# Only that line goes to stdout; progress and errors go to stderr.
#
# moto is installed once into a venv, $OUTREACH_SERVICES_VENV (default
# ${CARGO_TARGET_DIR:-<repo>/target}/services-venv; ~45 s the first time, cached after).
# Set OUTREACH_MOTO_SERVER to use a moto_server binary you already have instead.
# State (pid file, log) lives in $OUTREACH_SERVICES_DIR/moto-PORT
# (default ${TMPDIR:-/tmp}/outreach-services).
set -euo pipefail

log() { printf 'moto.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
STATE_ROOT="${OUTREACH_SERVICES_DIR:-${TMPDIR:-/tmp}/outreach-services}"
VENV="${OUTREACH_SERVICES_VENV:-${CARGO_TARGET_DIR:-$REPO/target}/services-venv}"
BUCKET=outreach-test
# moto accepts any credentials; these only have to be well-formed.
CREDENTIALS="AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true"

ensure_moto() {
  if [[ -n "${OUTREACH_MOTO_SERVER:-}" ]]; then
    MOTO_SERVER="$OUTREACH_MOTO_SERVER"
    [[ -x "$MOTO_SERVER" ]] || die "OUTREACH_MOTO_SERVER=$MOTO_SERVER is not executable"
    return 0
  fi
  MOTO_SERVER="$VENV/bin/moto_server"
  # `.installed` is written last, so an interrupted install is redone, not trusted.
  if [[ -x "$MOTO_SERVER" && -e "$VENV/.installed" ]]; then
    return 0
  fi
  command -v python3 >/dev/null || die "python3 is needed to install moto"
  mkdir -p "$(dirname "$VENV")"
  # Two test runs starting at once must not install into the same venv together.
  exec 9>"$VENV.lock"
  flock 9
  if [[ ! -e "$VENV/.installed" ]]; then
    log "installing moto[server] into $VENV (once; about a minute)"
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]' >&2
    [[ -x "$MOTO_SERVER" ]] || die "moto_server missing after installing moto[server]"
    "$VENV/bin/python" -c 'import moto; print(moto.__version__)' >"$VENV/.installed"
  fi
  flock -u 9
  exec 9>&-
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_from_env() {
  local url="${AWS_ENDPOINT_URL:-}"
  [[ "$url" =~ ^http://127\.0\.0\.1:([0-9]+) ]] || die "no PORT given and AWS_ENDPOINT_URL (${url:-unset}) names none"
  printf '%s\n' "${BASH_REMATCH[1]}"
}

is_our_server() {
  local pid="$1"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q moto_server
}

launch() {
  local port="$1" dir="$2" i
  mkdir -p "$dir"
  # All three streams redirected, or a caller's `$(moto.sh)` would wait for the server.
  (cd "$dir" && exec setsid "$MOTO_SERVER" -H 127.0.0.1 -p "$port" </dev/null >>"$dir/moto.log" 2>&1) &
  echo $! >"$dir/pid"
  for i in $(seq 1 300); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      log "moto_server on port $port exited; log:"
      tail -n 5 "$dir/moto.log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  log "moto_server on port $port did not answer within 30 s"
  return 1
}

halt() {
  local dir="$1" pid i
  pid="$(cat "$dir/pid" 2>/dev/null || true)"
  if is_our_server "$pid"; then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || return 0
      sleep 0.05
    done
    log "moto_server $pid ignored SIGTERM; sending SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
  fi
}

cmd="${1:-start}"
case "$cmd" in
  start)
    command -v curl >/dev/null || die "curl is needed"
    ensure_moto
    mkdir -p "$STATE_ROOT"
    for attempt in 1 2 3; do
      port="$(free_port)"
      dir="$STATE_ROOT/moto-$port"
      if launch "$port" "$dir"; then
        curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$port/$BUCKET" || die "could not create bucket $BUCKET"
        log "moto_server on 127.0.0.1:$port (pid $(cat "$dir/pid"), dir $dir), bucket $BUCKET"
        printf 'export OUTREACH_TEST_S3_URL=s3://%s AWS_ENDPOINT_URL=http://127.0.0.1:%s %s\n' \
          "$BUCKET" "$port" "$CREDENTIALS"
        exit 0
      fi
      halt "$dir"
      rm -rf "$dir"
      log "start attempt $attempt failed; trying another port"
    done
    die "could not start moto_server"
    ;;
  stop)
    port="${2:-$(port_from_env)}"
    dir="$STATE_ROOT/moto-$port"
    if [[ -d "$dir" ]]; then
      halt "$dir"
      rm -rf "$dir"
      log "stopped moto_server on port $port"
    else
      log "nothing to stop on port $port"
    fi
    ;;
  *)
    die "usage: moto.sh [start|stop [PORT]]"
    ;;
esac
