# Conveniences; the README's two commands need none of this.
.PHONY: run test generate lint bench

run:
	go run ./cmd/birdcar

test:
	go test ./...

generate:
	go tool templ generate
	go tool sqlc generate

lint:
	gofmt -l $$(git ls-files '*.go')
	go vet ./...

bench:
	go test ./sql/ride -run '^$$' -bench CreateRide -benchtime 2000x -timeout 30m
