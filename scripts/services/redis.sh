#!/usr/bin/env bash
# A throwaway Redis for tests: no persistence, loopback only, a free port.
#
#   eval "$(scripts/services/redis.sh)"          # start; prints export OUTREACH_TEST_REDIS_URL=…
#   scripts/services/redis.sh restart [PORT]     # stop and start again on the same port (fault tests)
#   scripts/services/redis.sh stop [PORT]        # stop and remove its directory
#
# PORT defaults to the one in $OUTREACH_TEST_REDIS_URL. Only `export` lines go to stdout;
# progress and errors go to stderr. State (pid file, log) lives in
# $OUTREACH_SERVICES_DIR/redis-PORT (default ${TMPDIR:-/tmp}/outreach-services), so
# several instances (and several checkouts) never share a pid file.
#
# Without persistence a restart empties the server: that is the harshest restart the
# queue must survive (stream and consumer group gone), so the fault test uses it.
set -euo pipefail

log() { printf 'redis.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

STATE_ROOT="${OUTREACH_SERVICES_DIR:-${TMPDIR:-/tmp}/outreach-services}"

find_server() {
  local candidate
  for candidate in "$(command -v redis-server 2>/dev/null || true)" /usr/bin/redis-server /usr/sbin/redis-server /usr/local/bin/redis-server; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_server() {
  if REDIS_SERVER="$(find_server)"; then
    return 0
  fi
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    die "redis-server not found; install it (Debian: apt-get install redis-server) or put it on PATH"
  fi
  log "installing redis-server with apt-get (once)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q redis-server >&2; then
    apt-get update -q >&2
    apt-get install -y -q redis-server >&2
  fi
  # The package may start a system service on 6379; we never use it, and leave it alone.
  REDIS_SERVER="$(find_server)" || die "redis-server still not found after installing it"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_from_env() {
  local url="${OUTREACH_TEST_REDIS_URL:-}"
  [[ "$url" =~ ^redis://[^:/]+:([0-9]+) ]] || die "no PORT given and OUTREACH_TEST_REDIS_URL (${url:-unset}) names none"
  printf '%s\n' "${BASH_REMATCH[1]}"
}

# PING over bash's /dev/tcp, so redis-cli is not needed.
ping_ok() {
  local port="$1" reply=""
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 1 reply <&3 || true
  exec 3>&- 3<&-
  [[ "$reply" == +PONG* ]]
}

# True when $1 is the pid of a redis-server we started (pid files outlive processes,
# and pids are reused).
is_our_server() {
  local pid="$1"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q redis-server
}

launch() {
  local port="$1" dir="$2"
  mkdir -p "$dir"
  # setsid: not killed with the caller's terminal; all three streams redirected, or a
  # caller's `$(redis.sh)` would wait for the server to exit.
  (cd "$dir" && exec setsid "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save '' \
    --appendonly no --daemonize no --dir "$dir" </dev/null >>"$dir/redis.log" 2>&1) &
  echo $! >"$dir/pid"
  local i
  for i in $(seq 1 100); do
    if ping_ok "$port"; then
      return 0
    fi
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      log "redis-server on port $port exited; log:"
      tail -n 5 "$dir/redis.log" >&2 || true
      return 1
    fi
    sleep 0.05
  done
  log "redis-server on port $port did not answer PING within 5 s"
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
    log "redis-server $pid ignored SIGTERM; sending SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
  fi
}

cmd="${1:-start}"
case "$cmd" in
  start)
    ensure_server
    mkdir -p "$STATE_ROOT"
    for attempt in 1 2 3; do
      port="$(free_port)"
      dir="$STATE_ROOT/redis-$port"
      if launch "$port" "$dir"; then
        log "redis-server $("$REDIS_SERVER" --version | awk '{print $3}') on 127.0.0.1:$port (pid $(cat "$dir/pid"), dir $dir)"
        printf 'export OUTREACH_TEST_REDIS_URL=redis://127.0.0.1:%s\n' "$port"
        exit 0
      fi
      halt "$dir"
      rm -rf "$dir"
      log "start attempt $attempt failed; trying another port"
    done
    die "could not start redis-server"
    ;;
  restart)
    ensure_server
    port="${2:-$(port_from_env)}"
    dir="$STATE_ROOT/redis-$port"
    [[ -d "$dir" ]] || die "no redis started by this script on port $port ($dir missing)"
    halt "$dir"
    launch "$port" "$dir" || die "could not restart redis-server on port $port"
    log "restarted redis-server on 127.0.0.1:$port (pid $(cat "$dir/pid"))"
    printf 'export OUTREACH_TEST_REDIS_URL=redis://127.0.0.1:%s\n' "$port"
    ;;
  stop)
    port="${2:-$(port_from_env)}"
    dir="$STATE_ROOT/redis-$port"
    if [[ -d "$dir" ]]; then
      halt "$dir"
      rm -rf "$dir"
      log "stopped redis-server on port $port"
    else
      log "nothing to stop on port $port"
    fi
    ;;
  *)
    die "usage: redis.sh [start|restart [PORT]|stop [PORT]]"
    ;;
esac
