# Conveniences; the README's two commands need none of this.
.PHONY: run test generate lint bench

# go.mod needs Go 1.26.10; the go command fetches it (once).
export GOTOOLCHAIN := go1.26.10

run:
	go run ./cmd/birdcar

test:
	go test ./...

generate:
	go tool templ generate
	go tool sqlc generate

# .ci/run also checks generated code, known vulnerabilities and -race.
lint:
	gofmt -l $$(git ls-files '*.go')
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

bench:
	go test ./sql/ride -run '^$$' -bench CreateRide -benchtime 2000x -timeout 30m
