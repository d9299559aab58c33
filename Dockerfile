# syntax=docker/dockerfile:1
# Backline API with the web UI embedded: build the UI, build the binary, run on slim Debian with
# the engines' client tools (pg_dump/pg_restore 17, mariadb-dump/mariadb 11.8).

FROM node:22-trixie-slim AS ui
WORKDIR /src/ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY ui/ ./
RUN npm run build

FROM rust:1.91-trixie AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY domain domain
COPY app app
COPY infra infra
COPY projections projections
COPY api api
COPY tests tests
# rust-embed takes the UI from ui/dist at compile time.
COPY --from=ui /src/ui/dist ui/dist
RUN cargo build --release --locked --bin backline \
    && install -m 0755 target/release/backline /usr/local/bin/backline

FROM debian:trixie-slim
# The dump/restore tools (their major version must be ≥ the servers'), the PostgreSQL server
# binaries a point-in-time restore runs a temporary cluster with (as this image's own user),
# curl for the health check, age and zstd so an operator can open an artifact by hand, and the
# OpenSSH client for databases reached through an SSH bastion.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       ca-certificates curl postgresql-client postgresql mariadb-client age zstd openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 backline \
    && useradd --system --uid 10001 --gid backline --home-dir /var/lib/backline --shell /usr/sbin/nologin backline \
    && install -d -o backline -g backline -m 0700 /var/lib/backline
COPY --from=build /usr/local/bin/backline /usr/local/bin/backline
COPY docker/demo-init.sh /usr/local/bin/backline-demo-init
ENV BACKLINE_LISTEN=0.0.0.0:8080 \
    BACKLINE_DATA_DIR=/var/lib/backline
USER 10001:10001
WORKDIR /var/lib/backline
VOLUME ["/var/lib/backline"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["backline"]
CMD ["serve"]
