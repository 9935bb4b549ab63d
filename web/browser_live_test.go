package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"birdcar/jobs"
	"birdcar/sql/ride"
)

// slowRetry keeps a failed send waiting (retrying) for the test's length.
type slowRetry struct{}

func (slowRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(time.Minute) }

// failSendRetries makes an operator's "retry now" of a waiting send fail
// inside the database, so the server answers it 500 as it would any
// internal failure. Test-only: a trigger on the test's own database.
const failSendRetries = `
CREATE FUNCTION test_fail_retry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'test: retry refused'; END $$;
CREATE TRIGGER test_fail_retry BEFORE UPDATE ON river_job FOR EACH ROW
WHEN (OLD.kind = 'send_sms' AND OLD.state = 'retryable' AND NEW.state = 'available')
EXECUTE FUNCTION test_fail_retry();`

func TestBrowser_LiveTrouble(t *testing.T) {
	fake, sender := fakeMessageBird(t)
	fake.SetFailRate(1) // MessageBird answers 500: every send retries
	var rides *ride.Service
	var server *Server
	b := startBrowserStackJobs(t, jobs.Config{Sender: sender, RetryPolicy: slowRetry{}},
		func(_ *river.Client[pgx.Tx], srv *Server) { rides, server = srv.Rides, srv })
	ctx := t.Context()
	if _, err := rides.DB.Exec(ctx, failSendRetries); err != nil {
		t.Fatal(err)
	}
	customer, err := rides.CreatePerson(ctx, ride.RoleCustomer, ride.PersonInput{Name: "Caitlin", Phone: "+31612340001"})
	if err != nil {
		t.Fatal(err)
	}
	driver, err := rides.CreatePerson(ctx, ride.RoleDriver, ride.PersonInput{Name: "Dmitri", Phone: "+31612340002"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"+3197000000101", "+3197000000102", "+3197000000103"} {
		if _, err := rides.AddNumber(ctx, ride.NumberInput{Number: n, Country: "NL"}); err != nil {
			t.Fatal(err)
		}
	}
	newRide := func() {
		t.Helper()
		if _, err := rides.CreateRide(ctx, ride.NewRide{CustomerID: customer.ID, DriverID: driver.ID,
			Start: "Dam", Destination: "Zuid", PickupAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}

	b.run(t, "log in",
		b.logIn(browserUser, browserPassword),
		chromedp.WaitVisible(sel("trouble-none")),
	)

	for i, view := range []struct {
		name          string
		width, height int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		// Each ride's two notifications fail: the overview counts them.
		want := []string{"2 sends retrying", "4 sends retrying"}[i]
		b.run(t, view.name+": overview",
			chromedp.EmulateViewport(view.width, view.height),
			chromedp.Navigate(b.base+"/"),
			chromedp.WaitVisible(sel("overview-live")),
			// Live once the stream is open; the page is marked, so a reload
			// would show.
			chromedp.Poll(`document.querySelector('[data-testid="live-status"]').textContent.startsWith("live")`, nil,
				chromedp.WithPollingTimeout(10*time.Second)),
			chromedp.Evaluate(`window.notReloaded = true`, nil),
		)
		start := time.Now()
		newRide()
		var text string
		b.run(t, view.name+": the failing sends appear",
			chromedp.Poll(`(document.querySelector('[data-testid="trouble-retrying"]') || {textContent: ""}).textContent.includes(`+"`"+want+"`"+`)`, nil,
				chromedp.WithPollingTimeout(5*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)),
			chromedp.Text(sel("trouble-retrying"), &text),
		)
		t.Logf("%s: %q on the overview %s after the ride", view.name, text, time.Since(start).Round(time.Millisecond))
		if !strings.Contains(text, "retrying") || !strings.Contains(text, "MessageBird") {
			t.Errorf("%s: overview says %q, want the sends retrying with MessageBird's error", view.name, text)
		}
		var kept bool
		b.run(t, view.name+": no reload", chromedp.Evaluate(`window.notReloaded === true`, &kept))
		if !kept {
			t.Errorf("%s: the overview was reloaded", view.name)
		}
		b.screenshot(t, view.name+"-overview")

		// The sends page: "retrying, next try at …"; retrying now fails
		// with a 500, which shows an alert beside the form and leaves the
		// button usable.
		var status, alert string
		var enabled bool
		b.run(t, view.name+": a 500 on a form",
			chromedp.Navigate(b.base+"/sends?status=retrying"),
			chromedp.WaitVisible(sel("send-retry")),
			chromedp.Text(sel("send-status"), &status),
			chromedp.Click(sel("send-retry")),
			chromedp.WaitVisible(sel("request-alert")),
			chromedp.Text(sel("request-alert"), &alert),
			chromedp.Evaluate(`!document.querySelector('[data-testid="send-retry"]').disabled`, &enabled),
		)
		if !strings.Contains(status, "retrying, next try at") {
			t.Errorf("%s: send status %q, want retrying with the next try", view.name, status)
		}
		if !strings.Contains(alert, "500") {
			t.Errorf("%s: alert %q, want the server's failure", view.name, alert)
		}
		if !enabled {
			t.Errorf("%s: the form stayed disabled after the failure", view.name)
		}
		b.screenshot(t, view.name+"-sends-alert")
	}

	// A live panel whose stream is gone says how old it is.
	server.stopStreams()
	var live string
	b.run(t, "a lost stream",
		chromedp.Poll(`document.querySelector('[data-testid="live-status"]').textContent.includes("reconnecting")`, nil,
			chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text(sel("live-status"), &live),
	)
	if !strings.HasPrefix(live, "last updated ") {
		t.Errorf("a lost stream reads %q, want last updated … — reconnecting", live)
	}
	b.screenshot(t, "phone-reconnecting")
}
