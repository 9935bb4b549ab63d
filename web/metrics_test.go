package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
	"birdcar/web/obs"
)

const metricsToken = "metrics-token-0123456789"

// setupMetrics is setup (on conn, nil for a test transaction) with a
// registry and, when token is set, /metrics behind it.
func setupMetrics(t *testing.T, conn ride.DB, token string) (*testBundle, *prometheus.Registry) {
	t.Helper()
	b := setup(t, conn)
	reg := obs.NewRegistry()
	b.srv = NewServer(t.Context(), &Server{
		Rides: b.Rides, Admin: b.srv.Admin, Logger: b.srv.Logger, APITokens: b.srv.APITokens,
		PublicURL: b.srv.PublicURL, Metrics: reg, MetricsToken: token,
	})
	return b, reg
}

// samples parses a text exposition into values keyed by series, e.g.
// `birdcar_messages{status="queued"}` (labels sorted, ", " between them).
func samples(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range families {
		vec, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{}, mf)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range vec {
			out[s.Metric.String()] = float64(s.Value)
		}
	}
	return out
}

// scrape GETs /metrics with the token and parses the answer.
func (b *testBundle) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	r := b.do(t, req)
	if r.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", r.StatusCode)
	}
	return samples(t, r.Body)
}

func TestMetrics_CountWebhooksAndDatabaseState(t *testing.T) {
	t.Parallel()
	b, _ := setupMetrics(t, nil, metricsToken)
	f := b.activeRide(t)
	for _, n := range []string{"+3197000000090", "+3197000000091"} {
		b.Number(t, n, "NL")
	}
	notifications := b.rideMessages(t, f.ride, func(m ride.Message) bool { return m.Kind == ride.KindNotification })
	before := b.scrape(t)

	sms := func(id, from string) int {
		return b.smsForm(t, url.Values{"id": {id}, "originator": {digits(from)}, "recipient": {digits(f.ride.ProxyNumber)}, "payload": {"hi"}}).StatusCode
	}
	report := func(reference string) int {
		q := url.Values{"reference": {reference}, "status": {"delivered"}, "statusDatetime": {"2026-05-01T12:01:00Z"}}
		return b.do(t, httptest.NewRequest("GET", "/webhook-status?"+q.Encode(), nil)).StatusCode
	}
	for _, w := range []struct {
		outcome      string
		status, want int
	}{
		{"forwarded", sms("mb-1", f.customer.Phone), 200},
		{"duplicate", sms("mb-1", f.customer.Phone), 200},
		{"unmatched", sms("mb-2", "+31655555555"), 200},
		{"rejected", sms("", f.customer.Phone), 400},
		{"applied", report(strconv.FormatInt(notifications[0].ID, 10)), 200},
		{"ignored", report("not-ours"), 200},
	} {
		if w.status != w.want {
			t.Errorf("%s webhook: %d, want %d", w.outcome, w.status, w.want)
		}
	}
	if tr, _ := b.voice(t, digits(f.customer.Phone), digits(f.ride.ProxyNumber)); tr == nil {
		t.Error("customer's call was not transferred")
	}
	if _, say := b.voice(t, "31655555555", digits(f.ride.ProxyNumber)); say == nil {
		t.Error("stranger's call was not turned away")
	}
	after := b.scrape(t)

	for series, want := range map[string]float64{
		`birdcar_webhook_requests_total{outcome="forwarded", route="sms"}`:       1,
		`birdcar_webhook_requests_total{outcome="duplicate", route="sms"}`:       1,
		`birdcar_webhook_requests_total{outcome="unmatched", route="sms"}`:       1,
		`birdcar_webhook_requests_total{outcome="rejected", route="sms"}`:        1,
		`birdcar_webhook_requests_total{outcome="error", route="sms"}`:           0,
		`birdcar_webhook_requests_total{outcome="transferred", route="voice"}`:   1,
		`birdcar_webhook_requests_total{outcome="rejected_call", route="voice"}`: 1,
		`birdcar_webhook_requests_total{outcome="rejected", route="voice"}`:      0,
		`birdcar_webhook_requests_total{outcome="error", route="voice"}`:         0,
		`birdcar_webhook_requests_total{outcome="applied", route="status"}`:      1,
		`birdcar_webhook_requests_total{outcome="ignored", route="status"}`:      1,
		`birdcar_webhook_requests_total{outcome="rejected", route="status"}`:     0,
		`birdcar_webhook_request_duration_seconds_count{route="sms"}`:            4,
		`birdcar_webhook_request_duration_seconds_count{route="voice"}`:          2,
		`birdcar_webhook_request_duration_seconds_count{route="status"}`:         2,
	} {
		was, okWas := before[series]
		is, okIs := after[series]
		if !okWas || !okIs || is-was != want {
			t.Errorf("%s moved %v → %v (present %v, %v), want +%v", series, was, is, okWas, okIs, want)
		}
	}
	// The ride's two notifications (one now delivered) and the forward are
	// queued with their jobs; the ride holds one of three numbers.
	for series, want := range map[string]float64{
		`birdcar_messages{status="queued"}`:     2,
		`birdcar_messages{status="delivered"}`:  1,
		`birdcar_messages{status="received"}`:   1,
		`birdcar_messages{status="unmatched"}`:  1,
		`birdcar_river_jobs{state="available"}`: 3,
		`birdcar_river_jobs{state="scheduled"}`: 0,
		`birdcar_river_jobs{state="retryable"}`: 0,
		`birdcar_river_jobs{state="running"}`:   0,
		`birdcar_pool_free_numbers`:             2,
	} {
		if got, ok := after[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if _, ok := after[`birdcar_messages{status="sent"}`]; ok {
		t.Error("a message status no row has is reported")
	}
	if after[`go_goroutines`] == 0 || after[`process_open_fds`] == 0 {
		t.Error("the Go and process collectors are missing")
	}
}

func TestMetrics_DatabaseTroubleIsCountedAndScrapesGoOn(t *testing.T) {
	t.Parallel()
	tx := dbtest.Tx(t)
	b, _ := setupMetrics(t, tx, metricsToken)
	f := b.activeRide(t)
	// The test's transaction, which the server works on, ends under it:
	// every later query fails, as in an outage.
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"source": {digits(f.customer.Phone)}, "destination": {digits(f.ride.ProxyNumber)}, "callID": {"c-1"}}
	if r := b.do(t, httptest.NewRequest("GET", "/webhook-voice?"+q.Encode(), nil)); r.StatusCode != 500 {
		t.Fatalf("voice webhook without a database: %d, want 500", r.StatusCode)
	}
	got := b.scrape(t)
	if n := got[`birdcar_webhook_requests_total{outcome="error", route="voice"}`]; n != 1 {
		t.Errorf("voice errors = %v, want 1", n)
	}
	for series := range got {
		for _, gauge := range []string{"birdcar_messages", "birdcar_river_jobs", "birdcar_pool_free_numbers"} {
			if strings.HasPrefix(series, gauge) {
				t.Errorf("%s reported without a database", series)
			}
		}
	}
	if _, ok := got[`go_goroutines`]; !ok {
		t.Error("the scrape lost the process's own metrics")
	}
}

func TestMetrics_TokenGuardsTheRoute(t *testing.T) {
	t.Parallel()
	b, _ := setupMetrics(t, nil, metricsToken)
	for _, auth := range []string{"", "Bearer", "Bearer wrong", "Bearer " + metricsToken + "x", metricsToken,
		"Basic " + metricsToken, "Bearer " + testToken} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Authorization", auth)
		r := b.do(t, req)
		body, _ := io.ReadAll(r.Body)
		if r.StatusCode != 401 || r.Header.Get("WWW-Authenticate") != "Bearer" || strings.Contains(string(body), "birdcar_") {
			t.Errorf("Authorization %q: %d, WWW-Authenticate %q", auth, r.StatusCode, r.Header.Get("WWW-Authenticate"))
		}
	}
}

func TestMetrics_WithoutTokenServedOnlyByMetricsHandler(t *testing.T) {
	t.Parallel()
	b, reg := setupMetrics(t, nil, "")
	if r := b.do(t, httptest.NewRequest("GET", "/metrics", nil)); r.StatusCode == 200 {
		t.Errorf("the app serves /metrics without a token")
	}
	ts := httptest.NewServer(obs.Handler(reg))
	defer ts.Close()
	r, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if n, ok := samples(t, r.Body)[`birdcar_pool_free_numbers`]; r.StatusCode != 200 || !ok || n != 0 {
		t.Errorf("MetricsHandler: %d, free numbers %v (present %v), want 200 and 0", r.StatusCode, n, ok)
	}
}
