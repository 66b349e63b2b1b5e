# syntax=docker/dockerfile:1
# Keelson in a small image: one binary with every subcommand (collect,
# sink, serve, keys, broker, healthcheck, ...) and the sample captures.
#
#   docker build -t keelson .
#   docker run --rm keelson help
#
# The image talks to servers (Kafka, ClickHouse): the embedded ClickHouse of
# `keelson demo` (chDB, a 170 MB shared library) is not in it. The binary is
# built with CGO_ENABLED=0 and -tags nochdb (which leaves out the embedded
# engine's dlopen loader), so it is fully static and the base is distroless
# "static" (CA certificates, tzdata, no libc, no shell). The map page is
# embedded (web/dist is committed, so no Node.js stage is needed).

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -tags nochdb -ldflags "-s -w" -o /out/keelson ./cmd/keelson

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="keelson" \
      org.opencontainers.image.description="Maritime vessel telemetry: NMEA/AIS collector, Kafka, ClickHouse sink, query API and map" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/keelson /usr/local/bin/keelson
# Real AIS captures (origins and licences in testdata/README.md) for replay.
COPY testdata/ais /usr/share/keelson/ais
COPY testdata/README.md /usr/share/keelson/README.md
USER nonroot:nonroot
WORKDIR /var/lib/keelson
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/keelson"]
CMD ["help"]
