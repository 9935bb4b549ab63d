package jobs

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"birdcar/sql/ride"
)

// Metrics counts the workers' sends and times how long jobs wait to start.
// A nil *Metrics records nothing, so workers need no checks.
type Metrics struct {
	attempts *prometheus.CounterVec
	failures *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// Send attempt results and failure reasons: fixed sets, so a label never
// carries a provider's free text or a phone number.
var (
	sendResults    = []ride.Delivery{ride.DeliverySent, ride.DeliveryRetry, ride.DeliveryFailed, ride.DeliverySkipped}
	failureReasons = []ride.SendFailure{ride.FailureRejected, ride.FailureServer, ride.FailureTimeout, ride.FailureNetwork, ride.FailureOther}
)

// NewMetrics registers the workers' metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "birdcar_send_attempts_total",
			Help: "Send jobs worked, by result: sent, retry (will be tried again), failed (given up) or skipped (already sent or finished).",
		}, []string{"result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "birdcar_send_failures_total",
			Help: "Sends the provider did not accept, by reason.",
		}, []string{"reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "birdcar_job_latency_seconds",
			Help: "Time from a job's scheduled time to the start of its work, by kind.",
			// Idle workers start a job in milliseconds; seconds mean a backlog.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"kind"}),
	}
	reg.MustRegister(m.attempts, m.failures, m.latency)
	// Every series exists from the start, so rate() sees the first event.
	for _, r := range sendResults {
		m.attempts.WithLabelValues(string(r))
	}
	for _, r := range failureReasons {
		m.failures.WithLabelValues(string(r))
	}
	return m
}

// delivered counts one send attempt by its outcome and, for a failed
// one, what went wrong. An attempt that never reached the provider (the
// database failed first) counts nothing.
func (m *Metrics) delivered(outcome ride.Delivery, err error) {
	if m == nil || outcome == "" {
		return
	}
	m.attempts.WithLabelValues(string(outcome)).Inc()
	if outcome == ride.DeliveryRetry || outcome == ride.DeliveryFailed {
		m.failures.WithLabelValues(string(ride.FailureOf(err))).Inc()
	}
}

// hooks are the River hooks that feed m; none when m is nil.
func (m *Metrics) hooks() []rivertype.Hook {
	if m == nil {
		return nil
	}
	return []rivertype.Hook{&latencyHook{m: m}}
}

// latencyHook observes each job's wait as its work begins.
type latencyHook struct {
	river.HookDefaults
	m *Metrics
}

// WorkBegin measures to attempted_at, the database's now() when the job
// was locked, rather than this host's clock: scheduled_at is mostly the
// database's insert time, so a worker's clock skew stays out.
func (h *latencyHook) WorkBegin(_ context.Context, job *rivertype.JobRow) error {
	started := time.Now()
	if job.AttemptedAt != nil {
		started = *job.AttemptedAt
	}
	h.m.latency.WithLabelValues(job.Kind).Observe(max(started.Sub(job.ScheduledAt), 0).Seconds())
	return nil
}
