#!/bin/sh
# The image's HEALTHCHECK: GET /healthz of what this container runs.
#   outreach serve  -> the port of OUTREACH_ADDR (the route includes a database round trip)
#   outreach worker -> the port of OUTREACH_METRICS_ADDR; a worker without one is
#                      reported healthy while it runs (nothing to ask)
#   anything else (migrate, token, …) -> healthy while it runs
# The address is read from the environment, so set OUTREACH_ADDR / OUTREACH_METRICS_ADDR
# rather than --addr / --metrics-addr when you rely on this check.
set -eu
cmd=$(tr '\0' ' ' </proc/1/cmdline 2>/dev/null || true)
case " $cmd" in
  *" worker"*) addr=${OUTREACH_METRICS_ADDR:-} ;;
  *" serve"*) addr=${OUTREACH_ADDR:-0.0.0.0:8080} ;;
  *) exit 0 ;;
esac
[ -n "$addr" ] || exit 0
exec curl -fsS -o /dev/null --max-time 4 "http://127.0.0.1:${addr##*:}/healthz"
