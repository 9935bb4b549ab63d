package jobs_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"birdcar/jobs"
	"birdcar/sql/ride"
)

// gather reads reg into values keyed by series, e.g.
// `birdcar_send_attempts_total{result="sent"}`.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	vec, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{}, families...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, s := range vec {
		out[s.Metric.String()] = float64(s.Value)
	}
	return out
}

func TestMetrics_CountSendAttemptsAndFailures(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	b := setupSend(t, jobs.Config{MaxAttempts: 10, Metrics: jobs.NewMetrics(reg)}, 0)

	b.fake.FailNext(2)
	b.waitStatus(t, b.queue(t, "+31611111111", "third time lucky").ID, ride.StatusSent)
	b.fake.SetRejectRecipients("31619999999")
	b.waitStatus(t, b.queue(t, "+31619999999", "no such phone").ID, ride.StatusFailed)

	got := gather(t, reg)
	for series, want := range map[string]float64{
		`birdcar_send_attempts_total{result="sent"}`:         1,
		`birdcar_send_attempts_total{result="retry"}`:        2,
		`birdcar_send_attempts_total{result="failed"}`:       1,
		`birdcar_send_attempts_total{result="skipped"}`:      0,
		`birdcar_send_failures_total{reason="server_error"}`: 2,
		`birdcar_send_failures_total{reason="permanent"}`:    1,
		`birdcar_send_failures_total{reason="timeout"}`:      0,
		`birdcar_send_failures_total{reason="network"}`:      0,
		`birdcar_send_failures_total{reason="other"}`:        0,
		`birdcar_job_latency_seconds_count{kind="send_sms"}`: 4,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
}
