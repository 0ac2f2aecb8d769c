# syntax=docker/dockerfile:1
#
# y360backup as a container: a static binary on a distroless base, running
# as the unprivileged user 65532. Build and run (see docs/deployment.md):
#
#   docker build -t y360backup --build-arg VERSION=$(git describe --always) .
#   docker run -d --name y360backup \
#     -v /etc/y360backup/config.yaml:/etc/y360backup/config.yaml:ro \
#     -v /etc/y360backup/secrets:/run/secrets:ro \
#     -v y360backup-data:/var/lib/y360backup \
#     -p 127.0.0.1:9360:9360 y360backup
#
# The config reads secrets from the mounted files (admin_token_file:
# /run/secrets/admin-token, client_secret_file: /run/secrets/client-secret),
# keeps the repository under /var/lib/y360backup (or in S3) and must set
# metrics.listen: 0.0.0.0:9360 for the port to be reachable from outside.

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" \
      -o /out/usr/local/bin/y360backup ./cmd/y360backup \
 && /out/usr/local/bin/y360backup version \
 && mkdir -p /out/var/lib/y360backup /out/etc/y360backup

# distroless/static: CA certificates, tzdata and a passwd entry for
# "nonroot" (65532), no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/usr/local/bin/y360backup /usr/local/bin/y360backup
COPY --from=build --chown=65532:65532 /out/var/lib/y360backup /var/lib/y360backup
COPY --from=build /out/etc/y360backup /etc/y360backup
USER 65532:65532
WORKDIR /var/lib/y360backup
VOLUME ["/var/lib/y360backup"]
EXPOSE 9360
# No curl or wget in the image: the binary asks its own /healthz (on the
# address metrics.listen names, via loopback). Healthy = the scheduler loop is
# alive and no job's latest run failed outright.
HEALTHCHECK --interval=1m --timeout=10s --start-period=1m --retries=3 \
  CMD ["/usr/local/bin/y360backup", "healthcheck", "--config", "/etc/y360backup/config.yaml"]
# SIGTERM cancels the running backup (committed checkpoints stay); give the
# container more than daemon.grace_period to stop: docker stop -t 60.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/y360backup"]
CMD ["run", "--config", "/etc/y360backup/config.yaml"]
