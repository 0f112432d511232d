#!/usr/bin/env bash
# A throwaway Redis that speaks only TLS, for the `rediss://` test: a CA and a server
# certificate (for 127.0.0.1 only) made with openssl on the spot, `redis-server
# --tls-port N --port 0` listening on 127.0.0.1 and 127.0.0.2 (the second address is not
# in the certificate, so a client that checks names must refuse it).
#
#   eval "$(scripts/services/redis-tls.sh start)"   # prints the export line below
#   scripts/services/redis-tls.sh stop [PORT]       # PORT defaults to the one in the URL
#
# Prints: export OUTREACH_TEST_REDIS_TLS_URL=rediss://127.0.0.1:N OUTREACH_TEST_REDIS_TLS_CA=DIR/ca.pem
# Debian's redis-server is built with TLS (it links libssl); one without TLS support
# refuses --tls-port and this script says so. State (certificates, pid, log) lives in
# $OUTREACH_SERVICES_DIR/redis-tls-PORT (default ${TMPDIR:-/tmp}/outreach-services).
set -euo pipefail

log() { printf 'redis-tls.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

STATE_ROOT="${OUTREACH_SERVICES_DIR:-${TMPDIR:-/tmp}/outreach-services}"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

make_certs() { # DIR
  local dir=$1
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=outreach test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$dir/ext.cnf"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 2 -extfile "$dir/ext.cnf" -out "$dir/server.pem" 2>/dev/null
}

halt() { # DIR
  local dir=$1 pid
  pid="$(cat "$dir/pid" 2>/dev/null || true)"
  if [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q redis-server; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}

case "${1:-start}" in
  start)
    server="$(command -v redis-server || true)"
    [[ -n "$server" ]] || die "redis-server not found (scripts/services/redis.sh installs it)"
    command -v openssl >/dev/null || die "openssl not found"
    command -v redis-cli >/dev/null || die "redis-cli not found (Debian: redis-tools)"
    port="$(free_port)"
    dir="$STATE_ROOT/redis-tls-$port"
    mkdir -p "$dir"
    make_certs "$dir"
    (cd "$dir" && exec setsid "$server" --port 0 --tls-port "$port" --bind 127.0.0.1 127.0.0.2 \
      --tls-cert-file "$dir/server.pem" --tls-key-file "$dir/server.key" \
      --tls-ca-cert-file "$dir/ca.pem" --tls-auth-clients no \
      --save '' --appendonly no --daemonize no --dir "$dir" </dev/null >>"$dir/redis.log" 2>&1) &
    echo $! >"$dir/pid"
    for _ in $(seq 1 100); do
      if redis-cli --tls --cacert "$dir/ca.pem" -h 127.0.0.1 -p "$port" PING 2>/dev/null | grep -q PONG; then
        log "redis-server with TLS only on 127.0.0.1:$port and 127.0.0.2:$port (dir $dir)"
        printf 'export OUTREACH_TEST_REDIS_TLS_URL=rediss://127.0.0.1:%s OUTREACH_TEST_REDIS_TLS_CA=%s\n' "$port" "$dir/ca.pem"
        exit 0
      fi
      if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        tail -n 5 "$dir/redis.log" >&2 || true
        rm -rf "$dir"
        die "redis-server exited (built without TLS support?)"
      fi
      sleep 0.05
    done
    halt "$dir"
    rm -rf "$dir"
    die "redis-server with TLS did not answer PING within 5 s"
    ;;
  stop)
    port="${2:-}"
    if [[ -z "$port" ]]; then
      [[ "${OUTREACH_TEST_REDIS_TLS_URL:-}" =~ :([0-9]+)$ ]] || die "no PORT given and OUTREACH_TEST_REDIS_TLS_URL names none"
      port="${BASH_REMATCH[1]}"
    fi
    dir="$STATE_ROOT/redis-tls-$port"
    [[ -d "$dir" ]] || { log "nothing to stop on port $port"; exit 0; }
    halt "$dir"
    rm -rf "$dir"
    log "stopped the TLS redis-server on port $port"
    ;;
  *)
    die "usage: redis-tls.sh [start|stop [PORT]]"
    ;;
esac
