#!/usr/bin/env bash
# A throwaway PostgreSQL for tests: a temporary directory, a free loopback port, no
# durability (fsync off), trust authentication for user `postgres`.
#
#   eval "$(scripts/services/postgres.sh start)"   # start in a new temporary directory
#   scripts/services/postgres.sh start DIR         # start in DIR (reuses DIR's data and
#                                                  # port if it has some; no-op if running)
#   scripts/services/postgres.sh restart [DIR]     # stop, then start on the same port/data
#   scripts/services/postgres.sh stop [DIR] [--keep]   # stop; delete DIR unless --keep
#   scripts/services/postgres.sh status [DIR]      # exit 0 if running
#
# DIR defaults to $OUTREACH_TEST_POSTGRES_DIR. `start` and `restart` print, on stdout
# and nothing else:
#   export OUTREACH_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/outreach_test
#   export OUTREACH_TEST_POSTGRES_DIR=DIR
# Everything else goes to stderr. `stop DIR` also stops servers started in DIR/extra/*
# (tests that need a server of their own put it there, so one stop cleans up all).
#
# Sourcing (`source scripts/services/postgres.sh`) starts a server and exports the two
# variables into the calling shell.
#
# Binaries: /usr/lib/postgresql/*/bin (newest first), then PATH; when absent and run as
# root, `apt-get install postgresql`. As root the server runs as the OS user `postgres`
# (created if missing): initdb refuses to run as root.

__outreach_pg_main() {
    set -euo pipefail

    local DB_NAME=outreach_test
    local PG_USER=postgres

    log() { printf 'postgres.sh: %s\n' "$*" >&2; }
    die() {
        log "error: $*"
        exit 1
    }

    find_bin() {
        local d
        for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
            if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
                echo "$d"
                return 0
            fi
        done
        local initdb
        if initdb=$(command -v initdb 2>/dev/null) && command -v pg_ctl >/dev/null 2>&1; then
            dirname "$(readlink -f "$initdb")"
            return 0
        fi
        return 1
    }

    local BIN
    if ! BIN=$(find_bin); then
        if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
            log "PostgreSQL not found; installing it with apt-get"
            export DEBIAN_FRONTEND=noninteractive
            apt-get install -y --no-install-recommends postgresql >&2 ||
                { apt-get update >&2 && apt-get install -y --no-install-recommends postgresql >&2; } ||
                die "apt-get install postgresql failed"
            BIN=$(find_bin) || die "PostgreSQL installed but initdb/pg_ctl not found"
        else
            die "initdb/pg_ctl not found (install PostgreSQL, e.g. apt-get install postgresql)"
        fi
    fi
    # psql/pg_isready from the same installation when it has them.
    local PSQL=$BIN/psql PG_ISREADY=$BIN/pg_isready
    [[ -x $PSQL ]] || PSQL=$(command -v psql) || die "psql not found"
    [[ -x $PG_ISREADY ]] || PG_ISREADY=$(command -v pg_isready) || die "pg_isready not found"

    # Who runs the server: as root, the `postgres` OS user; otherwise whoever we are.
    local AS_ROOT=0
    if [[ $(id -u) -eq 0 ]]; then
        AS_ROOT=1
        if ! id -u "$PG_USER" >/dev/null 2>&1; then
            log "creating OS user $PG_USER"
            useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER" >&2 ||
                die "could not create the OS user $PG_USER"
        fi
    fi
    as_server_user() {
        if [[ $AS_ROOT -eq 1 ]]; then
            if command -v runuser >/dev/null 2>&1; then
                runuser -u "$PG_USER" -- "$@"
            else
                su -s /bin/sh "$PG_USER" -c "$(printf '%q ' "$@")"
            fi
        else
            "$@"
        fi
    }

    port_in_use() {
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    }
    # A port below the kernel's ephemeral range (where outgoing connections take their
    # local ports, which a connect test cannot see) that nothing listens on.
    free_port() {
        local lo=32768 hi i port
        read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
        if ((lo < 11000)); then lo=65535; fi # unusual range: use the top instead
        for i in $(seq 1 50); do
            if ((lo == 65535)); then
                port=$((61000 + RANDOM % 4500))
            else
                port=$((10000 + RANDOM % (lo - 10000)))
            fi
            if ! port_in_use "$port"; then
                echo "$port"
                return 0
            fi
        done
        return 1
    }

    is_running() { # DIR
        [[ -f "$1/data/postmaster.pid" ]] && as_server_user "$BIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1
    }

    print_env() { # DIR PORT
        printf 'export OUTREACH_TEST_POSTGRES_URL=postgres://%s@127.0.0.1:%s/%s\n' "$PG_USER" "$2" "$DB_NAME"
        printf 'export OUTREACH_TEST_POSTGRES_DIR=%s\n' "$1"
    }

    # Starts the cluster in DIR on PORT (no retry); returns non-zero if it did not come up.
    pg_start() { # DIR PORT
        local dir=$1 port=$2
        as_server_user "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            >&2 || return 1
        local i
        for i in $(seq 1 100); do
            if "$PG_ISREADY" -q -h 127.0.0.1 -p "$port" -U "$PG_USER"; then
                return 0
            fi
            sleep 0.1
        done
        return 1
    }

    start() { # [DIR]
        local dir=${1:-} created=0
        if [[ -z $dir ]]; then
            dir=$(mktemp -d "${TMPDIR:-/tmp}/outreach-pg.XXXXXX")
            created=1
        fi
        mkdir -p "$dir"
        dir=$(cd "$dir" && pwd -P)
        touch "$dir/.outreach-postgres"
        mkdir -p "$dir/sock"
        if [[ $AS_ROOT -eq 1 ]]; then
            chown "$PG_USER" "$dir" "$dir/sock"
            # The server user must reach DIR (e.g. DIR inside a private directory of root's).
            as_server_user test -w "$dir" -a -x "$dir" ||
                die "$dir is not writable by the OS user $PG_USER; pick another DIR"
        fi

        if is_running "$dir"; then
            log "already running in $dir"
            print_env "$dir" "$(cat "$dir/port")"
            return 0
        fi

        if [[ ! -f "$dir/data/PG_VERSION" ]]; then
            rm -rf "$dir/data"
            as_server_user "$BIN/initdb" -D "$dir/data" -U "$PG_USER" -A trust -E UTF8 \
                --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
                { cat "$dir/initdb.log" >&2; die "initdb failed in $dir"; }
        fi

        # A stale pid file (a server killed hard) would make pg_ctl refuse to start.
        rm -f "$dir/data/postmaster.pid"

        # A DIR that ran before keeps its port (clients hold URLs with it); a new one
        # takes a free port, and another if that one is taken before the server binds it.
        local port="" attempt candidate
        for attempt in 1 2 3 4 5; do
            if [[ -f "$dir/port" ]]; then
                candidate=$(cat "$dir/port")
            else
                candidate=$(free_port) || die "no free port found"
            fi
            if pg_start "$dir" "$candidate"; then
                port=$candidate
                echo "$port" >"$dir/port"
                break
            fi
            log "start on port $candidate failed (attempt $attempt); server log:"
            tail -n 5 "$dir/server.log" >&2 || true
            as_server_user "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
            rm -f "$dir/data/postmaster.pid"
            sleep 0.5
        done
        if [[ -z $port ]]; then
            [[ $created -eq 1 ]] && rm -rf "$dir"
            die "PostgreSQL did not start in $dir (see above)"
        fi

        if [[ -z $("$PSQL" -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") ]]; then
            "$PSQL" -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres -q -v ON_ERROR_STOP=1 \
                -c "CREATE DATABASE $DB_NAME" >&2 || die "could not create database $DB_NAME"
        fi
        log "PostgreSQL $("$BIN/pg_ctl" --version | awk '{print $3}') ready on 127.0.0.1:$port (dir $dir)"
        print_env "$dir" "$port"
    }

    stop_one() { # DIR
        local dir=$1
        [[ -d "$dir/data" ]] || return 0
        if is_running "$dir"; then
            as_server_user "$BIN/pg_ctl" -D "$dir/data" -m fast -w -t 20 stop >&2 ||
                as_server_user "$BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 10 stop >&2 ||
                log "could not stop the server in $dir"
        fi
    }

    stop() { # DIR [--keep]
        local dir=$1 keep=$2
        [[ -n $dir ]] || die "stop: no DIR given and OUTREACH_TEST_POSTGRES_DIR is not set"
        if [[ ! -d $dir ]]; then
            log "nothing to stop: $dir does not exist"
            return 0
        fi
        [[ -f "$dir/.outreach-postgres" ]] || die "$dir was not made by this script; not touching it"
        local extra
        for extra in "$dir"/extra/*/; do
            [[ -f "$extra/.outreach-postgres" ]] && stop_one "${extra%/}"
        done
        stop_one "$dir"
        if [[ $keep -eq 0 ]]; then
            rm -rf "$dir"
            log "stopped and removed $dir"
        else
            log "stopped (kept $dir)"
        fi
    }

    restart() { # DIR
        local dir=$1
        [[ -n $dir ]] || die "restart: no DIR given and OUTREACH_TEST_POSTGRES_DIR is not set"
        [[ -f "$dir/.outreach-postgres" && -f "$dir/port" ]] || die "$dir holds no server of this script"
        stop_one "$dir"
        start "$dir"
    }

    local cmd=${1:-start}
    shift || true
    local dir="" keep=0 arg
    for arg in "$@"; do
        case $arg in
        --keep) keep=1 ;;
        -*) die "unknown option $arg" ;;
        *) dir=$arg ;;
        esac
    done
    case $cmd in
    start) start "$dir" ;;
    stop) stop "${dir:-${OUTREACH_TEST_POSTGRES_DIR:-}}" "$keep" ;;
    restart) restart "${dir:-${OUTREACH_TEST_POSTGRES_DIR:-}}" ;;
    status)
        dir=${dir:-${OUTREACH_TEST_POSTGRES_DIR:-}}
        [[ -n $dir ]] && is_running "$dir"
        ;;
    *) die "usage: $0 start [DIR] | restart [DIR] | stop [DIR] [--keep] | status [DIR]" ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    __outreach_pg_main "$@"
else
    # Sourced: start a server and export its variables into the caller's shell.
    if __outreach_pg_env=$(bash "${BASH_SOURCE[0]}" start "$@"); then
        eval "$__outreach_pg_env"
        unset __outreach_pg_env
    else
        unset __outreach_pg_env
        return 1
    fi
fi
