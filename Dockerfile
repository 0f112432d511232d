# The outreach image: one binary for `outreach serve` (the default), `outreach worker` and
# `outreach migrate` (pass the subcommand as the argument).
#
#   docker build -t outreach .
#   docker run -p 8080:8080 -v outreach-data:/data outreach          # API + one worker loop
#   docker run --env-file prod.env outreach worker                   # workers (REDIS_URL…)
#   docker run --env-file prod.env outreach migrate                  # schema, once per deploy
#
# Configuration is the environment names of the README (DATABASE_URL, REDIS_URL,
# STORAGE_URL, SERPER_API_KEY, …); compose.yaml wires a whole deployment.
#
# Stages: `build` (the official Rust image compiles a release binary), `runtime-base`
# (Debian slim, CA certificates, a non-root user),
# `prebuilt` (runtime-base + a binary built elsewhere, `outreach` at the root of the build
# context: what scripts/test-docker.sh uses on a machine without an image registry) and
# `runtime` (the default: runtime-base + the `build` stage's binary). `build` comes after
# `prebuilt` so that a builder without stage pruning (the legacy one) stops before it.

ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_BASE=debian:bookworm-slim

FROM ${RUNTIME_BASE} AS runtime-base
# ca-certificates: HTTPS to the providers, hosted PostgreSQL/Redis/S3.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin outreach \
    && mkdir -p /data \
    && chown outreach:outreach /data
# Listen on all interfaces inside the container; embedded defaults (SQLite, files, the
# local JWT secret) live in the /data volume.
ENV OUTREACH_ADDR=0.0.0.0:8080 \
    OUTREACH_DATA_DIR=/data
USER outreach
WORKDIR /data
VOLUME ["/data"]
# 8080: `serve` (API, web app, /metrics, /healthz); 9091: a worker's OUTREACH_METRICS_ADDR.
EXPOSE 8080 9091
# `outreach healthcheck` reads PID 1's command line with the same parser: serve → GET
# /healthz on its --addr (else OUTREACH_ADDR; includes a database round trip); worker →
# on its --metrics-addr (else OUTREACH_METRICS_ADDR) when set; anything else → healthy.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["outreach", "healthcheck"]
ENTRYPOINT ["outreach"]
CMD ["serve"]

FROM runtime-base AS prebuilt
COPY outreach /usr/local/bin/outreach

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# Release build of the one binary (default features: PostgreSQL, Redis, S3 backends).
RUN cargo build --release --locked -p outreach-server --bin outreach \
    && install -D -m 0755 target/release/outreach /out/outreach

FROM runtime-base AS runtime
COPY --from=build /out/outreach /usr/local/bin/outreach
