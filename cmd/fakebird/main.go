// Command fakebird serves a fake MessageBird SMS API for local runs and load
// tests: point BirdCar's MessageBird base URL at the address it prints.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"birdcar/jobs/messagebird/fakebird"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run serves until ctx ends, printing the server's URL once it listens.
func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fakebird", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	key := fs.String("key", "", "access key clients must send (empty: any)")
	latency := fs.Duration("latency", 0, "delay before every answer")
	failRate := fs.Float64("fail-rate", 0, "fraction of requests answered 500")
	timeoutRate := fs.Float64("timeout-rate", 0, "fraction of requests never answered")
	reject := fs.String("reject", "", "comma-separated recipient numbers answered 422")
	seed := fs.Uint64("seed", 0, "seed for failure rolls and message ids (0: random)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var rejects []string
	for n := range strings.SplitSeq(*reject, ",") {
		if n = strings.TrimSpace(n); n != "" {
			rejects = append(rejects, n)
		}
	}

	srv, err := fakebird.Start(fakebird.Options{
		Addr:             *addr,
		Key:              *key,
		Latency:          *latency,
		FailRate:         *failRate,
		TimeoutRate:      *timeoutRate,
		RejectRecipients: rejects,
		Seed:             *seed,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Println(srv.URL)
	<-ctx.Done()
	return nil
}
