# syntax=docker/dockerfile:1
#
# The `argus` image for distributed deployments (PostgreSQL + RabbitMQ + object storage).
# One image, every role: `argus serve --workers 0` (API), `argus worker`, `argus migrate`.
#
#   docker build -t argus:dev .
#
# See deploy/README.md for docker-compose and the Helm chart.

# --- build ------------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Stamped into /meta's `build` field (see crates/argus-cli/src/runtime.rs).
ARG ARGUS_BUILD=docker
ENV ARGUS_BUILD=${ARGUS_BUILD}
# `distributed` enables the PostgreSQL store, the RabbitMQ queue and object-storage artifacts
# next to the embedded defaults. Cache mounts keep rebuilds incremental; the binary is copied
# out because the cache mount is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --features distributed \
    && cp target/release/argus /usr/local/bin/argus

# --- runtime ----------------------------------------------------------------------------------
FROM debian:bookworm-slim
# git: repository scans clone and walk history; ca-certificates: TLS to databases, brokers,
# object storage and scanned hosts.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/argus --create-home argus
COPY --from=build /usr/local/bin/argus /usr/local/bin/argus
# Tool definitions (tools/*.toml). The built-in ones are also compiled into the binary; this
# folder is where the binary looks for definitions to add or replace (`tools.dir`), so an
# operator can mount their own over it. The tools' own executables are not in this image.
COPY tools/ /usr/share/argus/tools/
ENV ARGUS_TOOLS__DIR=/usr/share/argus/tools \
    ARGUS_SERVER__BIND=0.0.0.0:8080 \
    ARGUS_SERVER__DATA_DIR=/var/lib/argus
USER 10001:10001
WORKDIR /var/lib/argus
EXPOSE 8080
ENTRYPOINT ["argus"]
CMD ["serve"]
