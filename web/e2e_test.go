package web

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"birdcar/jobs"
	"birdcar/jobs/messagebird"
	"birdcar/jobs/messagebird/fakebird"
	"birdcar/sql/admin"
	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

type quickRetry struct{}

func (quickRetry) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(10 * time.Millisecond)
}

// serveLive runs BirdCar as production does, wired as cmd/birdcar wires it —
// River workers sending through sender, the batched call log, a real
// listener on loopback — on a fresh database, with the rules' settings in
// rides and the server's other settings in srv (a nil srv.Admin is a
// console nobody can log in to), and returns its base URL. Each of mount
// runs with the River client before the server is built, to mount what
// needs it (River UI).
func serveLive(t *testing.T, sender ride.Sender, rides *ride.Service, srv *Server, mount ...func(*river.Client[pgx.Tx], *Server)) string {
	t.Helper()
	return serveLiveJobs(t, jobs.Config{Sender: sender}, rides, srv, mount...)
}

// serveLiveJobs is serveLive with the workers' settings in cfg (the
// sender, where events go).
func serveLiveJobs(t *testing.T, cfg jobs.Config, rides *ride.Service, srv *Server, mount ...func(*river.Client[pgx.Tx], *Server)) string {
	t.Helper()
	pool, _ := dbtest.FreshDB(t)
	return serveOn(t, pool, cfg, rides, srv, mount...)
}

// serveOn is serveLiveJobs on a database of the test's choosing, with the
// route table of a web process.
func serveOn(t *testing.T, pool *pgxpool.Pool, cfg jobs.Config, rides *ride.Service, srv *Server, mount ...func(*river.Client[pgx.Tx], *Server)) string {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	rides.DB, rides.Logger = pool, logger
	if rides.AutoEndAfter == 0 {
		rides.AutoEndAfter = 12 * time.Hour
	}
	cfg.Pool, cfg.Rides, cfg.Logger, cfg.MaxAttempts = pool, rides, logger, 5
	if cfg.RetryPolicy == nil {
		cfg.RetryPolicy = quickRetry{}
	}
	workers, err := jobs.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rides.Jobs = workers
	if err := workers.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	callLog := ride.NewCallLog(rides, nil)
	rides.CallLog = callLog
	routesCtx, stopRoutes := context.WithCancel(context.Background())
	rides.Routes = ride.NewRouteTable(rides, pool)
	routesDone := make(chan struct{})
	go func() { defer close(routesDone); rides.Routes.Run(routesCtx) }()
	feed := ride.NewFeed(rides, pool, 100)
	feedDone := make(chan struct{})
	go func() { defer close(feedDone); feed.Run(routesCtx) }()
	srv.Feed = feed
	if srv.Admin == nil {
		srv.Admin = &admin.Service{}
	}
	srv.Admin.DB = pool
	srv.Rides, srv.Logger = rides, logger
	for _, m := range mount {
		m(workers, srv)
	}
	NewServer(t.Context(), srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Shutdown(5 * time.Second)
		stopRoutes()
		<-routesDone
		<-feedDone
		callLog.Close()
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = workers.Stop(stopCtx)
	})
	return "http://" + ln.Addr().String()
}

// fakeMessageBird starts the fake MessageBird and the SDK's sender
// pointed at it, as a live BirdCar sends.
func fakeMessageBird(t *testing.T) (*fakebird.Server, ride.Sender) {
	t.Helper()
	fake, err := fakebird.Start(fakebird.Options{Key: "live_key"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	sender, err := messagebird.NewSender(messagebird.Config{APIKey: "live_key", BaseURL: fake.URL, ReportURL: "http://127.0.0.1/webhook-status"})
	if err != nil {
		t.Fatal(err)
	}
	return fake, sender
}

// TestEndToEnd runs BirdCar as it runs in production — a real listener,
// River workers, the MessageBird SDK against the fake MessageBird — and
// plays a ride's conversation through the webhooks as MessageBird sends them.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	fake, sender := fakeMessageBird(t)
	rides := &ride.Service{DefaultCountry: "NL", GracePeriod: time.Hour}
	base := serveLive(t, sender, rides, &Server{APITokens: []string{testToken}})

	api := func(path string, body any, out any) {
		t.Helper()
		buf, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(buf))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 201 {
			msg, _ := io.ReadAll(resp.Body)
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, msg)
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	var cust, drv personJSON
	var num numberJSON
	var created rideJSON
	api("/api/v1/customers", map[string]string{"name": "Caitlin", "phone": "+31611111111"}, &cust)
	api("/api/v1/drivers", map[string]string{"name": "Dave", "phone": "+31622222222"}, &drv)
	api("/api/v1/numbers", map[string]string{"number": "+3197000000001"}, &num)
	api("/api/v1/rides", map[string]any{"customer_id": cust.ID, "driver_id": drv.ID, "start": "Dam 1",
		"destination": "Schiphol", "pickup_at": time.Now().Add(time.Hour).Format(time.RFC3339)}, &created)

	if _, err := fake.WaitAccepted(waitCtx(t), 2); err != nil {
		t.Fatalf("the two notifications never reached MessageBird: %v", err)
	}

	sms := func(id, from, text string) {
		t.Helper()
		form := url.Values{"id": {id}, "originator": {digits(from)}, "recipient": {digits(created.ProxyNumber)},
			"payload": {text}, "createdDatetime": {time.Now().Format(time.RFC3339)}}
		resp, err := http.PostForm(base+"/webhook", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("SMS webhook: %d", resp.StatusCode)
		}
	}
	sms("mb-in-1", cust.Phone, "I'm at the main entrance 👋")
	sms("mb-in-2", drv.Phone, "Two minutes away")
	got, err := fake.WaitAccepted(waitCtx(t), 4)
	if err != nil {
		t.Fatalf("forwards never reached MessageBird: %v", err)
	}
	forwards := map[string]fakebird.Accepted{}
	for _, a := range got[2:] {
		forwards[a.Body] = a
	}
	toDriver, toCustomer := forwards["I'm at the main entrance 👋"], forwards["Two minutes away"]
	if toDriver.Originator != digits(created.ProxyNumber) || len(toDriver.Recipients) != 1 || toDriver.Recipients[0] != digits(drv.Phone) {
		t.Errorf("customer's SMS forwarded as %+v, want from the proxy to the driver", toDriver)
	}
	if toCustomer.Originator != digits(created.ProxyNumber) || len(toCustomer.Recipients) != 1 || toCustomer.Recipients[0] != digits(cust.Phone) {
		t.Errorf("driver's SMS forwarded as %+v, want from the proxy to the customer", toCustomer)
	}

	voice := func(source string) string {
		t.Helper()
		q := url.Values{"source": {source}, "destination": {digits(created.ProxyNumber)}, "callID": {"call-" + source}}
		resp, err := http.Get(base + "/webhook-voice?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	// MessageBird's call flow elements, as the test reads them.
	type transfer struct {
		XMLName     xml.Name `xml:"Transfer"`
		Destination string   `xml:"destination,attr"`
	}
	type say struct {
		XMLName xml.Name `xml:"Say"`
		Text    string   `xml:",chardata"`
	}
	const apology = "Sorry, we cannot identify your transaction. Make sure you call in from the number you registered."
	var tr transfer
	if body := voice(digits(drv.Phone)); xml.Unmarshal([]byte(body), &tr) != nil || tr.Destination != digits(cust.Phone) || !strings.Contains(body, `mask="true"`) {
		t.Errorf("driver's call answered %s, want a masked transfer to the customer", body)
	}
	var sorry say
	if body := voice("31699999999"); xml.Unmarshal([]byte(body), &sorry) != nil || sorry.Text != apology {
		t.Errorf("stranger's call answered %s, want the apology", body)
	}

	// Every message the ride has is sent, and its calls are on record.
	deadline := time.Now().Add(60 * time.Second)
	for {
		outbox, err := rides.Outbox(ctx)
		if err != nil {
			t.Fatal(err)
		}
		unsent := 0
		for _, m := range outbox {
			if m.Status != ride.StatusSent {
				unsent++
			}
		}
		calls := dbtest.Rows(t, rides.DB, "calls")
		if unsent == 0 && calls == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %d outbound messages not sent, %d calls recorded (want 0 and 2)", unsent, calls)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(fake.Accepted()); n != 4 {
		t.Errorf("MessageBird received %d messages, want 4 (2 notifications, 2 forwards)", n)
	}
}

// waitCtx bounds one wait for the workers: generous, since a loaded
// two-core machine runs the whole suite beside them.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
