// Package jobs runs BirdCar's background work on River: sending SMS with
// retries, delivering events to the platform, and tidying, each a call to
// the domain (or, for events, one signed POST).
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

	"birdcar/sql/ride"
)

// Config is what the workers need to run.
type Config struct {
	Pool        *pgxpool.Pool
	Rides       *ride.Service
	Sender      ride.Sender // nil in a process that only enqueues
	Logger      *slog.Logger
	MaxAttempts int // per message, including the first
	Workers     int // concurrent sends in this process
	// RetryPolicy overrides River's backoff (tests use a fast one).
	RetryPolicy river.ClientRetryPolicy
	// Metrics records sends and job latency; nil records nothing.
	Metrics *Metrics
	// EventsURL and EventsSecret: where events go and what signs them.
	EventsURL, EventsSecret string
}

// NewClient builds the River client that runs BirdCar's workers. The same
// client is the domain's ride.Jobs: it inserts jobs (InsertTx) in the
// transactions that create messages.
func NewClient(cfg Config) (*river.Client[pgx.Tx], error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 50
	}
	// The domain writes some send jobs itself (ride.Service.ReceiveSMS):
	// they get the same number of attempts.
	cfg.Rides.SendAttempts = cmp.Or(cfg.MaxAttempts, river.MaxAttemptsDefault)
	workers := river.NewWorkers()
	river.AddWorker(workers, &SendWorker{Rides: cfg.Rides, Sender: cfg.Sender, Metrics: cfg.Metrics})
	river.AddWorker(workers, &TidyWorker{Rides: cfg.Rides})
	river.AddWorker(workers, NewEventWorker(cfg.EventsURL, cfg.EventsSecret))
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{
		Logger:      cfg.Logger,
		MaxAttempts: cfg.MaxAttempts,
		Queues:      queues(cfg),
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
		// River's cleaner deletes finished jobs: done and cancelled ones
		// after a day, given-up ones after a week, time for an operator to
		// look into them. Their arguments hold ids, never phones or texts.
		CompletedJobRetentionPeriod: 24 * time.Hour,
		CancelledJobRetentionPeriod: 24 * time.Hour,
		DiscardedJobRetentionPeriod: 7 * 24 * time.Hour,
		// River's defaults (100 ms, 1 s) add ≈ 50 ms before a send starts;
		// these keep a forward's latency to a few milliseconds. At 5 ms
		// the cooldown was most of a forward's wait at 200 texts a second
		// (a text every 5 ms waited for the last fetch's cooldown): p50
		// 7.8 ms, p99 28-49 ms, against 3.7-4.5 and 16-22 at 2 ms.
		FetchCooldown:     2 * time.Millisecond,
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

// queues are the River queues this process works: the sends, and the
// events when it knows where they go. A process without EVENTS_URL leaves
// them waiting for one that has it, rather than failing them.
func queues(cfg Config) map[string]river.QueueConfig {
	q := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}}
	if cfg.EventsURL != "" {
		q[ride.EventQueue] = river.QueueConfig{MaxWorkers: 10}
	}
	return q
}
