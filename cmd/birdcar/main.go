// Command birdcar runs the BirdCar number-masking service: the dashboard,
// the JSON API, MessageBird's webhooks and the workers that send SMS.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"riverqueue.com/riverui"

	"birdcar/jobs"
	"birdcar/sql/localpg"
	"birdcar/sql/migrations"
	"birdcar/sql/sample"
	"birdcar/web"
)

const usage = `usage: birdcar [serve|seed]
  serve  run the dashboard, API, webhooks and workers (default)
  seed   add the sample customers, drivers and numbers that are missing`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "birdcar:", err)
		os.Exit(1)
	}
}

// run is main without the process: arguments, environment and output are
// passed in so tests can drive it.
func run(ctx context.Context, args, environ []string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	if cmd != "serve" && cmd != "seed" {
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	cfg, err := loadConfig(environ, ".env")
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stdout, nil))

	var ln net.Listener
	if cmd == "serve" {
		// Listen before starting anything so a busy port fails fast.
		if ln, err = net.Listen("tcp", fmt.Sprintf(":%d", cfg.Port)); err != nil {
			return fmt.Errorf("cannot listen on port %d (is another program using it? stop it or set PORT)", cfg.Port)
		}
		defer ln.Close()
	}

	pool, stopDB, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer stopDB()
	defer pool.Close()

	if err := migrations.Apply(ctx, pool); err != nil {
		return fmt.Errorf("migrate the database: %w", err)
	}
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

	sender, err := newSender(cfg, logger)
	if err != nil {
		return err
	}
	workers, err := jobs.NewClient(jobs.Config{
		Pool: pool, Sender: sender, Logger: logger,
		MaxAttempts: cfg.SendMaxAttempts, GracePeriod: cfg.GracePeriod, AutoEndAfter: cfg.AutoEndAfter,
	})
	if err != nil {
		return err
	}
	if err := workers.Start(ctx); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	if len(cfg.APITokens) == 0 {
		logger.Info("JSON API is off: set API_TOKENS to enable it")
	}

	if cfg.SigningKey == "" {
		logger.Warn("MESSAGEBIRD_SIGNING_KEY is not set: webhooks are accepted without a signature")
	}
	adminHash, err := web.EnsureAdminPassword(ctx, pool, cfg.AdminUser, cfg.AdminPassword, logger)
	if err != nil {
		return fmt.Errorf("admin password: %w", err)
	}
	riverUI, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(workers, nil), Logger: logger, Prefix: "/riverui",
	})
	if err != nil {
		return fmt.Errorf("river UI: %w", err)
	}
	if err := riverUI.Start(ctx); err != nil {
		return fmt.Errorf("start river UI: %w", err)
	}
	callLog := web.NewCallLog(pool, logger)
	defer callLog.Close()

	srv := web.NewServer(ctx, &web.Server{
		DB:             pool,
		Logger:         logger,
		Sandbox:        cfg.MessageBirdAPIKey == "",
		Jobs:           workers,
		DefaultCountry: cfg.DefaultCountry,
		GracePeriod:    cfg.GracePeriod,
		APITokens:      cfg.APITokens,
		SigningKey:     cfg.SigningKey,
		PublicURL:      cfg.PublicURL,
		CallLog:        callLog,

		AdminUser:         cfg.AdminUser,
		AdminPasswordHash: adminHash,
		SecureCookies:     strings.HasPrefix(cfg.PublicURL, "https://"),
		PoolLowWatermark:  cfg.PoolLowWatermark,
		RiverUI:           riverUI,
	})
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "BirdCar is running: open http://localhost:%d (Ctrl-C to stop)\n", cfg.Port)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	if err := srv.Shutdown(10 * time.Second); err != nil {
		logger.Warn("HTTP shutdown", "err", err)
	}
	// Running sends finish; unfinished jobs stay in the database for the next start.
	stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := workers.Stop(stopCtx); err != nil {
		logger.Warn("stop workers", "err", err)
	}
	return nil
}

// newSender is MessageBird when a key is set, the sandbox otherwise.
func newSender(cfg config, logger *slog.Logger) (jobs.Sender, error) {
	if cfg.MessageBirdAPIKey == "" {
		logger.Info("no MESSAGEBIRD_API_KEY: sandbox sender, messages are recorded but not sent")
		return jobs.SandboxSender{}, nil
	}
	return jobs.NewMessageBirdSender(jobs.MessageBirdConfig{
		APIKey: cfg.MessageBirdAPIKey, BaseURL: cfg.MessageBirdURL, ReportURL: cfg.PublicURL + "/webhook-status",
	})
}

// openDatabase connects to DATABASE_URL, or to a private cluster it starts
// when none is set. The returned stop function shuts that cluster down.
func openDatabase(ctx context.Context, cfg config, logger *slog.Logger) (*pgxpool.Pool, func(), error) {
	url, stop := cfg.DatabaseURL, func() {}
	if url == "" {
		cluster, err := localpg.Start(ctx, localpg.Options{DataDir: cfg.DataDir, Logger: logger})
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
	pool, err := connect(ctx, url)
	if err != nil {
		stop()
		if cfg.DatabaseURL != "" {
			return nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		return nil, nil, err
	}
	return pool, stop, nil
}

// defaultPoolSize is the connections a process opens unless DATABASE_URL
// sets pool_max_conns.
const defaultPoolSize = 20

// connect opens a pool and proves the server answers.
func connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parser's message may echo the URL, password included.
		return nil, errors.New("not a valid PostgreSQL URL (want postgres://user:password@host:5432/dbname)")
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgxpool's default (the core count, at least 4) starves River's
		// workers and the webhooks sharing one pool.
		pcfg.MaxConns = defaultPoolSize
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to PostgreSQL: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot connect to PostgreSQL at %s:%d: %w", pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, rootCause(err))
	}
	return pool, nil
}

// rootCause keeps the innermost message of an error chain, following the
// first of joined errors: the part a person can act on ("connection
// refused", "password authentication failed for user …").
func rootCause(err error) error {
	for {
		var next error
		switch e := err.(type) {
		case interface{ Unwrap() error }:
			next = e.Unwrap()
		case interface{ Unwrap() []error }:
			if errs := e.Unwrap(); len(errs) > 0 {
				next = errs[0]
			}
		}
		if next == nil {
			return err
		}
		err = next
	}
}
