package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"birdcar/sql/ride"
	"birdcar/web/obs"
)

// localOutcome is the c.Locals key a webhook handler sets to name what it
// did with a request it answers 2xx; one it leaves unnamed is "ignored".
const localOutcome = "webhook_outcome"

// scrapeTimeout bounds one scrape's database queries: a slow database
// costs the scrape its gauges instead of piling scrapes up.
const scrapeTimeout = 2 * time.Second

var errMetricsToken = &ride.Error{Code: ride.CodeUnauthorized,
	Message: "Send the metrics token as \"Authorization: Bearer <token>\"."}

// webhookOutcomes lists each route's outcomes, so every series exists (at
// 0) from the start and rate() sees the first event.
var webhookOutcomes = map[string][]string{
	"sms":    {"forwarded", "unmatched", "duplicate", "rejected", "error"},
	"voice":  {"transferred", "rejected_call", "rejected", "error"},
	"status": {"applied", "ignored", "rejected", "error"},
}

var (
	messagesDesc = prometheus.NewDesc("birdcar_messages",
		"Messages by status, counted at scrape time.", []string{"status"}, nil)
	riverJobsDesc = prometheus.NewDesc("birdcar_river_jobs",
		"River jobs waiting or running, by state, counted at scrape time.", []string{"state"}, nil)
	poolFreeDesc = prometheus.NewDesc("birdcar_pool_free_numbers",
		"Enabled proxy numbers no ride holds now or later.", nil, nil)
)

// registerMetricsRoutes adds the scrape-time gauges to s.Metrics and mounts
// /metrics when a token guards it. Without a token this app, which faces
// MessageBird and the internet, does not serve it: obs.Handler does, on a
// listener of its own.
func (s *Server) registerMetricsRoutes() {
	if s.Metrics == nil {
		return
	}
	s.Metrics.MustRegister(dbCollector{s})
	if s.MetricsToken != "" {
		s.app.Get("/metrics", s.requireMetricsToken, s.httpHandler(obs.Handler(s.Metrics)))
	}
}

func (s *Server) requireMetricsToken(c *fiber.Ctx) error {
	got, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.MetricsToken)) != 1 {
		c.Set(fiber.HeaderWWWAuthenticate, "Bearer")
		return errMetricsToken
	}
	return c.Next()
}

// observeWebhook counts and times a webhook route's requests by outcome.
func (s *Server) observeWebhook(route string) fiber.Handler {
	if s.Metrics == nil {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	requests, durations := webhookMetrics(s.Metrics)
	// Resolved once: looking a counter up by its labels hashes them under
	// a lock, on every call of the busiest route.
	counters := make(map[string]prometheus.Counter)
	for _, o := range webhookOutcomes[route] {
		counters[o] = requests.WithLabelValues(route, o)
	}
	took := durations.WithLabelValues(route)
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		took.Observe(time.Since(start).Seconds())
		o := webhookOutcome(c, err)
		if n, ok := counters[o]; ok {
			n.Inc()
		} else {
			requests.WithLabelValues(route, o).Inc()
		}
		return err
	}
}

// webhookMetrics returns the webhook metrics on reg, registering them on
// the first call: every route's observeWebhook asks for the same ones, and
// the registry is the one place that outlives the call.
func webhookMetrics(reg prometheus.Registerer) (*prometheus.CounterVec, *prometheus.HistogramVec) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "birdcar_webhook_requests_total",
		Help: "MessageBird webhook requests, by route and outcome.",
	}, []string{"route", "outcome"})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "birdcar_webhook_request_duration_seconds",
		Help: "Time to answer a MessageBird webhook, by route.",
		// A webhook takes a few milliseconds; past 100 ms something waits.
		Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .25, .5, 1},
	}, []string{"route"})
	return registerOnce(reg, requests), registerOnce(reg, durations)
}

// registerOnce registers c on reg, or returns the equal collector that is
// already there.
func registerOnce[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		return are.ExistingCollector.(C)
	}
	if err != nil {
		panic(err) // a clash with a different metric: a programming error
	}
	return c
}

// webhookOutcome names a request's outcome from the status the caller gets
// and, for a success, what the handler said it did.
func webhookOutcome(c *fiber.Ctx, err error) string {
	status := c.Response().StatusCode()
	if err != nil {
		status = errorStatus(c, err)
	}
	switch {
	case status >= 500:
		return "error"
	case status >= 400:
		return "rejected"
	}
	if o, ok := c.Locals(localOutcome).(string); ok {
		return o
	}
	return "ignored"
}

// callOutcome names a call's outcome for the metric from where it was put
// through to: "rejected" is a refused request, so a call turned away with
// a Say is "rejected_call".
func callOutcome(transferTo string) string {
	if transferTo == "" {
		return "rejected_call"
	}
	return string(ride.CallTransferred)
}

// reportOutcome names a delivery report's effect.
func reportOutcome(applied bool) string {
	if applied {
		return "applied"
	}
	return "ignored"
}

// dbCollector reports the database's state at scrape time. Every web
// process reports the same values: aggregate them with max, not sum.
type dbCollector struct{ s *Server }

func (d dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- messagesDesc
	ch <- riverJobsDesc
	ch <- poolFreeDesc
}

// Collect runs one grouped query per gauge. A failed query drops its gauge
// from this scrape and is logged, rather than failing the scrape: the
// process's own metrics matter most when the database is in trouble.
func (d dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(d.s.base, scrapeTimeout)
	defer cancel()
	rides := d.s.Rides
	if counts, err := rides.MessagesByStatus(ctx); err != nil {
		d.failed(ctx, "birdcar_messages", err)
	} else {
		for status, n := range counts {
			ch <- prometheus.MustNewConstMetric(messagesDesc, prometheus.GaugeValue, float64(n), string(status))
		}
	}
	if counts, err := rides.UnfinishedJobs(ctx); err != nil {
		d.failed(ctx, "birdcar_river_jobs", err)
	} else {
		for _, state := range ride.UnfinishedJobStates {
			ch <- prometheus.MustNewConstMetric(riverJobsDesc, prometheus.GaugeValue, float64(counts[state]), state)
		}
	}
	if pool, err := rides.PoolHealth(ctx); err != nil {
		d.failed(ctx, "birdcar_pool_free_numbers", err)
	} else {
		ch <- prometheus.MustNewConstMetric(poolFreeDesc, prometheus.GaugeValue, float64(pool.Free))
	}
}

func (d dbCollector) failed(ctx context.Context, gauge string, err error) {
	d.s.Logger.WarnContext(ctx, "metrics scrape: gauge left out", "gauge", gauge, "err", err)
}
