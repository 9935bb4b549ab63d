package jobs

import (
	"context"
	"errors"
	"net"
	"net/url"
	"time"

	messagebird "github.com/messagebird/go-rest-api/v9"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
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
	sendResults    = []string{"sent", "retry", "failed", "skipped"}
	failureReasons = []string{"permanent", "server_error", "timeout", "network", "other"}
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
		m.attempts.WithLabelValues(r)
	}
	for _, r := range failureReasons {
		m.failures.WithLabelValues(r)
	}
	return m
}

// skipped counts a send job that found nothing to send.
func (m *Metrics) skipped() {
	if m != nil {
		m.attempts.WithLabelValues("skipped").Inc()
	}
}

// sendDone counts one call to the Sender. It mirrors SendWorker.Work's
// decision: a failure is final when permanent or on the last attempt.
func (m *Metrics) sendDone(err error, lastAttempt bool) {
	switch {
	case m == nil:
	case err == nil:
		m.attempts.WithLabelValues("sent").Inc()
	default:
		m.failures.WithLabelValues(failureKind(err)).Inc()
		if IsPermanent(err) || lastAttempt {
			m.attempts.WithLabelValues("failed").Inc()
		} else {
			m.attempts.WithLabelValues("retry").Inc()
		}
	}
}

// failureKind sorts a send error into failureReasons by the error it wraps,
// in classifyMessageBirdError's order (a timeout is also a *url.Error).
func failureKind(err error) string {
	var netErr net.Error
	switch {
	case IsPermanent(err):
		return "permanent"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, messagebird.ErrUnexpectedResponse), errors.As(err, new(messagebird.ErrorResponse)):
		return "server_error"
	case errors.As(err, new(*url.Error)):
		return "network"
	}
	return "other"
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
