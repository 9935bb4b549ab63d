// Package jobs holds BirdCar's background work on River: sending SMS through
// a Sender with retries, and tidying ride status.
package jobs

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// Config is what the workers need to run.
type Config struct {
	Pool         *pgxpool.Pool
	Sender       Sender
	Logger       *slog.Logger
	MaxAttempts  int           // per message, including the first
	GracePeriod  time.Duration // an ended ride keeps routing this long
	AutoEndAfter time.Duration // an active ride this long past pickup is completed
	Workers      int           // concurrent sends in this process
	Now          func() time.Time
	// RetryPolicy overrides River's backoff (tests use a fast one).
	RetryPolicy river.ClientRetryPolicy
	// Metrics records sends and job latency; nil records nothing.
	Metrics *Metrics
}

// NewClient builds the River client that runs BirdCar's workers. The same
// client inserts jobs (InsertTx) in the transactions that create messages.
func NewClient(cfg Config) (*river.Client[pgx.Tx], error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 50
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &SendWorker{DB: cfg.Pool, Sender: cfg.Sender, Metrics: cfg.Metrics})
	river.AddWorker(workers, &TidyWorker{DB: cfg.Pool, GracePeriod: cfg.GracePeriod, AutoEndAfter: cfg.AutoEndAfter, Now: cfg.Now})
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{
		Logger:      cfg.Logger,
		MaxAttempts: cfg.MaxAttempts,
		Queues:      map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		Workers:     workers,
		RetryPolicy: cmp.Or(cfg.RetryPolicy, river.ClientRetryPolicy(retryPolicy{})),
		Hooks:       cfg.Metrics.hooks(),
		// A send ends well within this: MessageBird's timeout (10 s) and
		// two short queries.
		JobTimeout: 20 * time.Second,
		// River's default is an hour: a send that was running in a killed
		// process would wait that long. Past JobTimeout a job still marked
		// running belongs to a dead process; the rescuer (every 30 s)
		// schedules its retry.
		RescueStuckJobsAfter: 30 * time.Second,
		// River's defaults (100 ms, 1 s) add ≈ 50 ms before a send starts;
		// these keep a forward's latency to a few milliseconds.
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(5*time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return TidyArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return client, nil
}
