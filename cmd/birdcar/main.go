// Command birdcar runs the BirdCar number-masking service: the dashboard,
// the JSON API, MessageBird's webhooks and the workers that send SMS.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"riverqueue.com/riverui"

	"birdcar/jobs"
	"birdcar/jobs/messagebird"
	"birdcar/sql/admin"
	"birdcar/sql/database"
	"birdcar/sql/localpg"
	"birdcar/sql/migrations"
	"birdcar/sql/ride"
	"birdcar/sql/sample"
	"birdcar/web"
	"birdcar/web/obs"
)

const usage = `usage: birdcar [serve [--role=all|web|worker] | seed | operator add … | health [--url URL] | version | help]
  serve    run BirdCar (the default). --role=web serves the console, API and
           webhooks and enqueues sends; --role=worker runs the River workers
           and periodic jobs; all (the default) does both. Any number of each
           can share one database.
  seed     add the sample customers, drivers and numbers that are missing
  operator add --username U --name "N" [--role viewer|dispatcher|admin]
           add a console operator; the password is read from
           OPERATOR_PASSWORD or, without it, the first line of stdin
  health   exit 0 if URL (default http://127.0.0.1:PORT/healthz) answers 200,
           else 1 with the reason: for a container's HEALTHCHECK
  version  print BirdCar's version and the Go version that built it
  help     print this (also --help, -h)
Settings come from the environment or .env: see env.example.`

// consolePasswordFile is where a generated console password goes, in
// BIRDCAR_DATA_DIR, when no terminal shows it.
const consolePasswordFile = "console-password"

// healthTimeout bounds birdcar health's request.
const healthTimeout = 10 * time.Second

// Roles a serving process can take.
const (
	roleAll    = "all"
	roleWeb    = "web"
	roleWorker = "worker"
)

// shutdownBudget bounds a graceful stop: in-flight requests first, then
// running jobs; what is left is cancelled and River retries it elsewhere.
const (
	httpShutdown    = 10 * time.Second
	workersShutdown = 15 * time.Second
)

// maxLivePages bounds the console pages a process keeps an event stream
// open for (a goroutine and a connection each).
const maxLivePages = 1000

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runWithInput(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "birdcar:", err)
		os.Exit(1)
	}
}

// run is main without the process: arguments, environment and output are
// passed in so tests can drive it. Its input is the process's stdin.
func run(ctx context.Context, args, environ []string, stdout io.Writer) (err error) {
	return runWithInput(ctx, args, environ, os.Stdin, stdout)
}

// gcPercent paces the collector unless GOGC does. A process's live heap
// is a few MB, so at Go's default of 100 it collected several times a
// second under load, and its assists showed in the voice webhook's p99
// (about a millisecond of 10, BENCHMARKS.md); at 400 the heap may grow to
// five times what is live, still tens of MB.
const gcPercent = 400

// runWithInput is run reading stdin (a password, for birdcar operator add).
func runWithInput(ctx context.Context, args, environ []string, stdin io.Reader, stdout io.Writer) (err error) {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	if cmd == "operator" {
		return operatorCommand(ctx, args, environ, stdin, stdout)
	}
	fs := flag.NewFlagSet("birdcar "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	role, healthURL := new(string), new(string)
	switch cmd {
	case "serve":
		role = fs.String("role", roleAll, "all, web or worker")
	case "health":
		healthURL = fs.String("url", "", "the URL to ask")
	case "seed", "version", "help":
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	err = fs.Parse(args)
	switch {
	case cmd == "help" || errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(stdout, usage)
		return nil
	case err != nil || fs.NArg() > 0:
		return fmt.Errorf("bad arguments %q\n%s", strings.Join(args, " "), usage)
	case cmd == "version":
		fmt.Fprintln(stdout, version())
		return nil
	case cmd == "health":
		return health(ctx, *healthURL, environ, stdout)
	case cmd == "serve" && *role != roleAll && *role != roleWeb && *role != roleWorker:
		return fmt.Errorf("unknown role %q: want all, web or worker", *role)
	}
	cfg, err := loadConfig(environ, ".env")
	if err != nil {
		return err
	}
	logger := slog.New(obs.NewLogHandler(stdout, cfg.LogFormat, cfg.LogLevel))
	if cmd == "serve" {
		defer func() {
			// A signal while starting (connecting, migrating) asks for the
			// same stop as one while serving: exit 0, not "context canceled".
			if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
				logger.Info("shutting down during start-up")
				err = nil
			}
		}()
	}

	if _, set := lookupEnv(environ, "GOGC"); cmd == "serve" && !set {
		debug.SetGCPercent(gcPercent)
	}
	var ln net.Listener
	if cmd == "serve" && *role != roleWorker {
		// Listen before starting anything so a busy port fails fast.
		if ln, err = net.Listen("tcp", fmt.Sprintf(":%d", cfg.Port)); err != nil {
			return fmt.Errorf("cannot listen on port %d (is another program using it? stop it or set PORT)", cfg.Port)
		}
		defer ln.Close()
	}

	pool, stopDB, err := openMigrated(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer stopDB()

	if cmd == "seed" {
		if err := sample.Insert(ctx, pool); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "Sample customers, drivers and numbers are in place.")
		return nil
	}
	if seeded, err := sample.IfEmpty(ctx, pool); err != nil {
		return err
	} else if seeded {
		logger.Info("empty database: added sample customers, drivers and numbers")
	}
	return serve(ctx, cfg, *role, ln, pool, logger, stdout)
}

// serve runs a process's role until ctx ends, then stops it in order:
// HTTP first (in-flight requests finish), then the workers (running sends
// finish; what does not within the budget is cancelled and retried).
func serve(ctx context.Context, cfg config, role string, ln net.Listener, pool *pgxpool.Pool, logger *slog.Logger, stdout io.Writer) error {
	rides := &ride.Service{
		DB: pool, Logger: logger, DefaultCountry: cfg.DefaultCountry, GracePeriod: cfg.GracePeriod,
		AutoEndAfter: cfg.AutoEndAfter, PoolLowWatermark: cfg.PoolLowWatermark, Retention: cfg.Retention,
		Events: cfg.EventsURL != "", OutOfSessionWindow: cfg.OutOfSessionWindow, OutOfSessionReply: cfg.OutOfSessionReply,
	}
	// The hot paths' group commit and their announcements to the consoles
	// outlive the HTTP server and the workers, which write through them:
	// deferred first, they stop last.
	hotCtx, stopHot := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHot()
	rides.Announce, rides.Batch = ride.NewAnnouncer(rides), ride.NewBatcher(rides)
	go rides.Announce.Run(hotCtx)
	go rides.Batch.Run(hotCtx)
	jobsCfg := jobs.Config{
		Pool: pool, Rides: rides, Logger: logger, MaxAttempts: cfg.SendMaxAttempts, Workers: cfg.RiverWorkers,
		EventsURL: cfg.EventsURL, EventsSecret: cfg.EventsSecret,
	}
	reg := obs.NewRegistry()
	jobsCfg.Metrics = jobs.NewMetrics(reg)
	if cfg.MetricsAddr != "" {
		stopMetrics, err := serveMetrics(cfg.MetricsAddr, reg, logger)
		if err != nil {
			return err
		}
		defer stopMetrics()
	} else if cfg.MetricsToken == "" || role == roleWorker {
		logger.Info("metrics are not served: set METRICS_ADDR (or METRICS_TOKEN for /metrics on PORT)")
	}
	runsWorkers := role != roleWeb
	if runsWorkers {
		sender, err := newSender(cfg, logger)
		if err != nil {
			return err
		}
		jobsCfg.Sender = sender
	}
	client, err := jobs.NewClient(jobsCfg)
	if err != nil {
		return err
	}
	rides.Jobs = client
	database.Warm(ctx, pool, rides.WarmUp)
	if runsWorkers {
		// Not ctx: a signal must not cancel the sends in flight (a send
		// MessageBird accepted but we never recorded would go twice);
		// stopWorkers stops River softly instead.
		if err := client.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start workers: %w", err)
		}
		defer stopWorkers(client, logger)
	}
	if role == roleWorker {
		fmt.Fprintln(stdout, "BirdCar worker is running (Ctrl-C to stop)")
		<-ctx.Done()
		logger.Info("shutting down")
		return nil
	}

	if len(cfg.APITokens) == 0 {
		logger.Info("no API_TOKENS: the JSON API takes only tokens an admin makes on the console's API tokens page")
	}
	switch {
	case cfg.UnsignedWebhooks:
		logger.Warn("ALLOW_UNSIGNED_WEBHOOKS=1: BirdCar is live and accepts webhooks without a signature, so anyone who can reach it can forge them and unmask numbers; set MESSAGEBIRD_SIGNING_KEY")
	case cfg.SigningKey == "":
		logger.Warn("MESSAGEBIRD_SIGNING_KEY is not set: webhooks are accepted without a signature")
	}
	adminHash, generated, err := admin.EnsurePassword(ctx, pool, cfg.AdminUser, cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("admin password: %w", err)
	}
	if generated != "" {
		if err := showConsolePassword(cfg, generated, stdout, logger); err != nil {
			return err
		}
	}
	riverUI, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(client, nil), Logger: logger, Prefix: "/riverui",
	})
	if err != nil {
		return fmt.Errorf("river UI: %w", err)
	}
	if err := riverUI.Start(ctx); err != nil {
		return fmt.Errorf("start river UI: %w", err)
	}
	rides.CallLog = ride.NewCallLog(rides, fileSpool{cfg.DataDir})
	defer rides.CallLog.Close()

	// Requests run on their own context, so a signal lets them finish;
	// it is cancelled only once the HTTP shutdown budget is spent.
	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	rides.Routes = ride.NewRouteTable(rides, pool)
	go rides.Routes.Run(reqCtx)
	feed := ride.NewFeed(rides, pool, maxLivePages)
	go feed.Run(reqCtx)
	settings := cfg.webServer()
	settings.Rides = rides
	settings.Admin = &admin.Service{DB: pool, User: cfg.AdminUser, PasswordHash: adminHash, PasswordFixed: cfg.AdminPassword != ""}
	if _, err := settings.Admin.EnsureFirstAdmin(ctx); err != nil {
		return err
	}
	settings.Logger = logger
	settings.RiverUI = riverUI
	settings.WorkersRunning = workersRunning(client, runsWorkers)
	settings.Metrics = reg
	settings.Feed = feed
	srv := web.NewServer(reqCtx, settings)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "BirdCar is running: open http://localhost:%d (Ctrl-C to stop)\n", cfg.Port)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	if err := srv.Shutdown(httpShutdown); err != nil {
		logger.Warn("HTTP shutdown", "err", err)
	}
	return nil
}

// showConsolePassword gets a generated console password to the operator.
// A terminal shows it; any other stdout is a log stream, kept and shipped
// elsewhere, so it goes to a file in the data directory that only this user
// can read, and the log says where.
func showConsolePassword(cfg config, password string, stdout io.Writer, logger *slog.Logger) error {
	if obs.IsTerminal(stdout) {
		fmt.Fprintf(stdout, "Console password for %q: %s (shown only now; set ADMIN_PASSWORD to choose one)\n", cfg.AdminUser, password)
		return nil
	}
	path, err := localpg.WriteSecret(cfg.DataDir, consolePasswordFile, []byte(password+"\n"))
	if err != nil {
		// The hash is stored: a restart would not generate another.
		return fmt.Errorf("BIRDCAR_DATA_DIR: cannot keep the generated console password there, so it is lost (%w): set ADMIN_PASSWORD to choose one", err)
	}
	logger.Info(fmt.Sprintf("generated a console password for %q: it is in %s, readable by this user only (set ADMIN_PASSWORD to choose one)", cfg.AdminUser, path))
	return nil
}

// health asks a running BirdCar's /healthz, as a container's HEALTHCHECK
// does: nil on 200, else an error saying what it got.
func health(ctx context.Context, target string, environ []string, stdout io.Writer) error {
	if target == "" {
		cfg, err := loadConfig(environ, ".env")
		if err != nil {
			return err
		}
		target = fmt.Sprintf("http://127.0.0.1:%d/healthz", cfg.Port)
	} else if _, err := urlVar("--url", target); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	// A redirect is an answer, and not 200.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("not healthy: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not healthy: %s answered %s", target, resp.Status)
	}
	fmt.Fprintf(stdout, "healthy: %s answered %s\n", target, resp.Status)
	return nil
}

// buildVersion is the release a build is of, when the build names it
// (-ldflags "-X main.buildVersion=v1.2.3", as the Dockerfile does).
var buildVersion string

// version names this build: its release or the module's version, the
// commit when the build recorded one (not under -buildvcs=false), and Go's
// version.
func version() string {
	v, commit := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		var vcs []string
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision":
				vcs = append([]string{s.Value[:min(len(s.Value), 12)]}, vcs...)
			case s.Key == "vcs.time":
				vcs = append(vcs, s.Value)
			case s.Key == "vcs.modified" && s.Value == "true":
				vcs = append(vcs, "modified")
			}
		}
		if len(vcs) > 0 {
			commit = " (" + strings.Join(vcs, " ") + ")"
		}
	}
	if buildVersion != "" {
		v = buildVersion
	}
	return "birdcar " + v + commit + " " + runtime.Version()
}

// serveMetrics serves /metrics on a listener of its own (METRICS_ADDR),
// which needs no token: bind it where only the monitoring can reach it.
func serveMetrics(addr string, reg *prometheus.Registry, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR: cannot listen on %s", addr)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", obs.Handler(reg))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener", "err", err)
		}
	}()
	logger.Info("metrics served", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// workersRunning is /readyz's check of the River workers in processes
// that run them; nil elsewhere.
func workersRunning(client *river.Client[pgx.Tx], runs bool) func() bool {
	if !runs {
		return nil
	}
	return func() bool {
		select {
		case <-client.Stopped():
			return false
		default:
			return true
		}
	}
}

// stopWorkers lets running jobs finish; past the budget it cancels them,
// and River hands them to another worker (or this one, next start).
func stopWorkers(client *river.Client[pgx.Tx], logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), workersShutdown)
	defer cancel()
	if err := client.Stop(ctx); err == nil {
		return
	}
	logger.Warn("workers did not finish in time: cancelling running jobs")
	hardCtx, hardCancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer hardCancel()
	if err := client.StopAndCancel(hardCtx); err != nil {
		logger.Warn("stop workers", "err", err)
	}
}

// newSender is MessageBird when a key is set, the sandbox otherwise.
func newSender(cfg config, logger *slog.Logger) (ride.Sender, error) {
	if cfg.MessageBirdAPIKey == "" {
		logger.Info("no MESSAGEBIRD_API_KEY: sandbox sender, messages are recorded but not sent")
		return messagebird.Sandbox{}, nil
	}
	return messagebird.NewSender(messagebird.Config{
		APIKey: cfg.MessageBirdAPIKey, BaseURL: cfg.MessageBirdURL, ReportURL: cfg.PublicURL + "/webhook-status",
	})
}

// openMigrated is openDatabase with its schema brought up to date; stop
// closes the pool, then the private cluster if there is one.
func openMigrated(ctx context.Context, cfg config, logger *slog.Logger) (*pgxpool.Pool, func(), error) {
	pool, stopDB, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	stop := func() { pool.Close(); stopDB() }
	if err := migrations.Apply(ctx, pool); err != nil {
		stop()
		return nil, nil, fmt.Errorf("migrate the database: %w", err)
	}
	return pool, stop, nil
}

// openDatabase connects to DATABASE_URL, or to a private cluster it starts
// when none is set. The returned stop function shuts that cluster down.
func openDatabase(ctx context.Context, cfg config, logger *slog.Logger) (*pgxpool.Pool, func(), error) {
	url, stop := cfg.DatabaseURL, func() {}
	if url == "" {
		cluster, err := localpg.Start(ctx, localpg.Options{DataDir: cfg.DataDir, Logger: logger})
		if errors.Is(err, localpg.ErrDataDir) {
			return nil, nil, fmt.Errorf("BIRDCAR_DATA_DIR: %w", err)
		}
		if err != nil {
			return nil, nil, err
		}
		url = cluster.URL()
		stop = func() {
			if err := cluster.Stop(); err != nil {
				logger.Error("stop PostgreSQL", "err", err)
			}
		}
	}
	pool, err := database.Open(ctx, url)
	if err != nil {
		stop()
		if cfg.DatabaseURL != "" {
			return nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		return nil, nil, err
	}
	return pool, stop, nil
}
