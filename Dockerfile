# Multi-stage build: a static (musl) chillproxy binary on a minimal, non-root image.
#   docker build -t chillproxy .
#   docker run -p 8080:8080 -e CHILLPROXY_SECRET=... -v chillproxy-data:/data chillproxy
FROM rust:1.90-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p chillproxy-host \
 && strip target/release/chillproxy

FROM alpine:3.20
RUN apk add --no-cache ca-certificates wget \
 && addgroup -S chillproxy && adduser -S -G chillproxy -H chillproxy \
 && mkdir -p /data /etc/chillproxy && chown chillproxy:chillproxy /data
COPY --from=build /src/target/release/chillproxy /usr/local/bin/chillproxy
COPY plugins.toml /etc/chillproxy/plugins.toml
USER chillproxy
WORKDIR /data
ENV CHILLPROXY_CONFIG=/etc/chillproxy/plugins.toml \
    CHILLPROXY_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
  CMD wget -q -O /dev/null http://127.0.0.1:8080/health || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/chillproxy"]
