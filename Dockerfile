# syntax=docker/dockerfile:1
# BirdCar as one static binary on distroless: no shell, no package manager,
# run as the unprivileged user "nonroot". The image has no PostgreSQL, so
# set DATABASE_URL (compose.yaml runs one beside it).

FROM golang:1.26.10 AS build
WORKDIR /src
COPY . .
# VERSION is what "birdcar version" prints: --build-arg VERSION=$(git describe).
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.buildVersion=${VERSION}" -o /out/birdcar ./cmd/birdcar

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/birdcar /birdcar
USER nonroot:nonroot
EXPOSE 8080
# "birdcar health" GETs http://127.0.0.1:$PORT/healthz. Web processes only:
# compose.yaml turns it off for workers, which serve no HTTP.
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["/birdcar", "health"]
ENTRYPOINT ["/birdcar"]
CMD ["serve"]
