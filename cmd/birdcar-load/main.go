// Command birdcar-load puts a bounded load on BirdCar's webhooks and reports
// throughput, latency and, read back from a fake MessageBird, whether every
// acknowledged SMS was forwarded exactly once to the right party. It only
// ever talks to loopback addresses. `birdcar-load chaos` runs BirdCar itself
// and kills it and its PostgreSQL under load (see chaos.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "birdcar-load:", err)
		os.Exit(1)
	}
}

const usage = "usage: birdcar-load -token TOKEN [-target URL] [-fake URL] [-mode voice|sms|both] [flags]\n       " + chaosUsage

// config is the parsed command line.
type config struct {
	target       *url.URL
	fake         *url.URL // nil: no end-to-end SMS check
	token        string
	mode         string
	rides        int
	numbers      int
	concurrency  int
	rate         float64
	duration     time.Duration
	count        int
	stranger     float64
	drain        time.Duration
	json         bool
	requireExact bool
}

func (c config) voice() bool { return c.mode != "sms" }
func (c config) sms() bool   { return c.mode != "voice" }

// maxRides keeps the per-run phone numbers (3-digit prefix, 4-digit index,
// two people a ride) inside their block.
const maxRides = 5000

func parseConfig(args []string) (config, error) {
	fs := flag.NewFlagSet("birdcar-load", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), usage)
		fs.PrintDefaults()
	}
	target := fs.String("target", "http://127.0.0.1:8080", "BirdCar's base URL (loopback only)")
	fake := fs.String("fake", "", "fake MessageBird's base URL (loopback only); enables the end-to-end SMS check")
	var c config
	fs.StringVar(&c.token, "token", "", "BirdCar API token (one of its API_TOKENS)")
	fs.StringVar(&c.mode, "mode", "both", "webhooks to load: voice, sms or both")
	fs.IntVar(&c.rides, "rides", 200, "rides to create before the load")
	fs.IntVar(&c.numbers, "numbers", 50, "proxy numbers to make sure the pool holds")
	fs.IntVar(&c.concurrency, "concurrency", 64, "voice workers")
	fs.Float64Var(&c.rate, "rate", 200, "SMS webhooks a second (open loop)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "time limit of each load phase")
	fs.IntVar(&c.count, "count", 100000, "request limit of each load phase")
	fs.Float64Var(&c.stranger, "stranger", 0.1, "fraction of calls from an unknown number")
	fs.DurationVar(&c.drain, "drain", 30*time.Second, "how long to wait for SMS forwards after sending")
	fs.BoolVar(&c.json, "json", false, "print the report as JSON")
	fs.BoolVar(&c.requireExact, "require-exact", false, "fail unless every acknowledged SMS was forwarded exactly once, to the right party")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), usage)
	}

	var err error
	if c.target, err = loopbackURL("target", *target); err != nil {
		return config{}, err
	}
	if *fake != "" {
		if c.fake, err = loopbackURL("fake", *fake); err != nil {
			return config{}, err
		}
	}
	var problems []string
	check := func(ok bool, msg string) {
		if !ok {
			problems = append(problems, msg)
		}
	}
	check(c.token != "", "-token is required")
	check(c.mode == "voice" || c.mode == "sms" || c.mode == "both", "-mode must be voice, sms or both")
	check(c.rides >= 1 && c.rides <= maxRides, fmt.Sprintf("-rides must be from 1 to %d", maxRides))
	check(c.numbers >= 0 && c.numbers < 1e6, "-numbers must be from 0 to 999999")
	check(c.concurrency >= 1, "-concurrency must be at least 1")
	check(c.rate > 0, "-rate must be positive")
	check(c.duration > 0, "-duration must be positive")
	check(c.count >= 1, "-count must be at least 1")
	check(c.stranger >= 0 && c.stranger <= 1, "-stranger must be a fraction from 0 to 1")
	check(c.drain >= 0, "-drain must not be negative")
	check(!c.requireExact || (c.sms() && c.fake != nil), "-require-exact needs -mode sms or both, and -fake")
	if len(problems) > 0 {
		return config{}, fmt.Errorf("%s\n%s", strings.Join(problems, "; "), usage)
	}
	return c, nil
}

var errNotLoopback = errors.New("not a loopback address")

// loopbackURL parses a -target or -fake flag, refusing hosts off this
// machine: the tool must never load someone else's server.
func loopbackURL(flagName, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-%s %q: want http://host:port", flagName, raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("-%s %q: refused, %w (want 127.0.0.0/8, ::1 or localhost)", flagName, raw, errNotLoopback)
	}
	return u, nil
}

// loopbackOnly refuses at dial time any address off this machine, since a
// name such as localhost could resolve elsewhere.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("dial %s: %w", address, errNotLoopback)
	}
	return nil
}

// requestTimeout bounds one request, so a hung server ends a phase late
// rather than never.
const requestTimeout = 10 * time.Second

// newClient returns the one client every request goes through, keeping
// enough idle loopback connections that no worker has to open a new one.
func newClient(conns int) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			// No Proxy: the traffic must stay on this machine.
			DialContext:         dialer.DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		// A redirect is an answer to count, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// loader runs one load run.
type loader struct {
	cfg         config
	client      *http.Client
	runID       string // 8 hex digits, in every id, name and SMS token of the run
	phonePrefix int    // 0-999, the run's block of party phone numbers
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "chaos" {
		return runChaos(ctx, args[1:], stdout, os.Stderr)
	}
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	l := &loader{
		cfg:         cfg,
		client:      newClient(max(cfg.concurrency, maxInFlight, setupConcurrency)),
		runID:       fmt.Sprintf("%08x", rand.Uint32()),
		phonePrefix: rand.IntN(1000),
	}
	defer l.client.CloseIdleConnections()

	rep, runErr := l.run(ctx)
	if err := rep.write(stdout, cfg.json); err != nil {
		return errors.Join(runErr, fmt.Errorf("write report: %w", err))
	}
	switch {
	case runErr != nil:
		return runErr
	case rep.Interrupted:
		return errors.New("interrupted: the report covers only part of the run")
	case cfg.requireExact:
		return rep.SMS.exactErr()
	}
	return nil
}

// run sets up the rides, then runs the load phases the mode asks for. The
// report it returns is never nil, so even a failed run can be shown.
func (l *loader) run(ctx context.Context) (*report, error) {
	rep := &report{RunID: l.runID, Target: l.cfg.target.String(), Mode: l.cfg.mode}
	rides, setup, err := l.setup(ctx)
	rep.Phases = append(rep.Phases, setup)
	rep.Rides = len(rides)
	if ctx.Err() != nil {
		rep.Interrupted = true
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("setup: %w", err)
	}
	if l.cfg.sms() && l.cfg.fake != nil {
		// Ride notifications would otherwise fill the list the drain polls.
		if err := l.resetFake(ctx); err != nil {
			return rep, err
		}
	}
	if l.cfg.voice() {
		rep.Phases = append(rep.Phases, l.voice(ctx, rides))
	}
	if l.cfg.sms() && ctx.Err() == nil {
		phase, e2e, err := l.sms(ctx, rides)
		rep.Phases = append(rep.Phases, phase)
		rep.SMS = e2e
		if err != nil {
			return rep, err
		}
	}
	rep.Interrupted = ctx.Err() != nil
	return rep, nil
}

// digits turns E.164 into MessageBird's form, as webhooks carry numbers.
func digits(e164 string) string { return strings.TrimPrefix(e164, "+") }
