package jobs_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"birdcar/jobs"
	"birdcar/jobs/messagebird"
	"birdcar/jobs/messagebird/fakebird"
	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// fastRetry retries almost at once, so a test sees River's retries in milliseconds.
type fastRetry struct{}

func (fastRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(10 * time.Millisecond) }

// noJobs is a ride.Jobs that enqueues nothing. Set-up writes its rides
// through it, so their notifications stay queued without a job and the
// fake sees only what a test sends.
type noJobs struct{ ride.Jobs }

func (noJobs) InsertManyTx(context.Context, pgx.Tx, []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	return nil, nil
}

// proxyNumber is the pool's only number: every test ride goes through it.
const proxyNumber = "+3197000000001"

type sendBundle struct {
	rides  *ride.Service // enqueues on client
	quiet  *ride.Service // the same database; enqueues nothing
	fake   *fakebird.Server
	client *river.Client[pgx.Tx]

	customers map[string]string // the customer whose ride is with each recipient
	inbound   map[int64]string  // the inbound MessageBird id of each queued forward
}

// setupSend starts a fake MessageBird, the real SDK sender pointed at it
// (with the given timeout; 0 keeps the default 10 s, which a busy machine
// never mistakes for a hung MessageBird), and a River client with the real
// workers, as cfg sets them up, on a fresh database.
func setupSend(t *testing.T, cfg jobs.Config, timeout time.Duration) *sendBundle {
	t.Helper()
	pool, _ := dbtest.FreshDB(t)
	fake, err := fakebird.Start(fakebird.Options{Key: "test_key"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	sender, err := messagebird.NewSender(messagebird.Config{
		APIKey: "test_key", BaseURL: fake.URL, ReportURL: "http://127.0.0.1:8080/webhook-status", Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	service := func(j ride.Jobs) *ride.Service {
		return &ride.Service{DB: pool, Jobs: j, Logger: logger, DefaultCountry: "NL",
			GracePeriod: time.Hour, AutoEndAfter: 12 * time.Hour}
	}
	rides := service(nil)
	cfg.Pool, cfg.Rides, cfg.Sender, cfg.Logger = pool, rides, sender, logger
	cfg.RetryPolicy = cmp.Or(cfg.RetryPolicy, river.ClientRetryPolicy(fastRetry{}))
	client, err := jobs.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rides.Jobs = client
	if _, err := rides.AddNumber(t.Context(), ride.NumberInput{Number: proxyNumber}); err != nil {
		t.Fatal(err)
	}
	if err := client.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Stop(ctx)
	})
	return &sendBundle{rides: rides, quiet: service(noJobs{}), fake: fake, client: client,
		customers: map[string]string{}, inbound: map[int64]string{}}
}

// customerOf returns the customer of an active ride whose driver has the
// phone to, creating both people and the ride on first use.
func (b *sendBundle) customerOf(t *testing.T, to string) string {
	t.Helper()
	if c, ok := b.customers[to]; ok {
		return c
	}
	ctx := t.Context()
	customer, err := b.quiet.CreatePerson(ctx, ride.RoleCustomer, ride.PersonInput{
		Name: "Customer", Phone: fmt.Sprintf("+316200000%02d", len(b.customers))})
	if err != nil {
		t.Fatal(err)
	}
	driver, err := b.quiet.CreatePerson(ctx, ride.RoleDriver, ride.PersonInput{Name: "Driver", Phone: to})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.quiet.CreateRide(ctx, ride.NewRide{CustomerID: customer.ID, DriverID: driver.ID,
		Start: "Damrak 1", Destination: "Schiphol", PickupAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	b.customers[to] = customer.Phone
	return customer.Phone
}

// receive hands the domain a text from the customer of to's ride, through
// rides, which forwards it to to, and returns the forward.
func (b *sendBundle) receive(t *testing.T, rides *ride.Service, to, body string) ride.Message {
	t.Helper()
	from := b.customerOf(t, to)
	in := fmt.Sprintf("mb-in-%d", len(b.inbound)+1)
	outcome, err := rides.ReceiveSMS(t.Context(), ride.InboundSMS{ID: in, Originator: from, Recipient: proxyNumber, Text: body})
	if err != nil || outcome != ride.SMSForwarded {
		t.Fatalf("receive SMS: %q, %v; want it forwarded", outcome, err)
	}
	fwd, err := rides.ForwardOf(t.Context(), in)
	if err != nil || fwd == nil {
		t.Fatalf("forward of %s: %+v, %v", in, fwd, err)
	}
	b.inbound[fwd.ID] = in
	return *fwd
}

// queue writes an outbound message and its job in one transaction, as a
// forwarded text does.
func (b *sendBundle) queue(t *testing.T, to, body string) ride.Message {
	t.Helper()
	return b.receive(t, b.rides, to, body)
}

// message reads a queued message again.
func (b *sendBundle) message(t *testing.T, id int64) ride.Message {
	t.Helper()
	in, ok := b.inbound[id]
	if !ok {
		t.Fatalf("message %d was not queued by this test", id)
	}
	m, err := b.rides.ForwardOf(t.Context(), in)
	if err != nil || m == nil {
		t.Fatalf("read message %d: %+v, %v", id, m, err)
	}
	return *m
}

// waitStatus polls until the message reaches status, failing after 30 s.
func (b *sendBundle) waitStatus(t *testing.T, id int64, status ride.MessageStatus) ride.Message {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		msg := b.message(t, id)
		if msg.Status == status {
			return msg
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %d is %q (attempts %d, last error %v), want %q", id, msg.Status, msg.Attempts, deref(msg.LastError), status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sendJob finds the message's send job through River's API, decoding
// each job's arguments: the jobs tests hold no SQL.
func (b *sendBundle) sendJob(t *testing.T, id int64) *rivertype.JobRow {
	t.Helper()
	params := river.NewJobListParams().Kinds(ride.SendArgs{}.Kind()).First(10_000)
	res, err := b.client.JobList(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	var found *rivertype.JobRow
	for _, j := range res.Jobs {
		var args ride.SendArgs
		if err := json.Unmarshal(j.EncodedArgs, &args); err != nil {
			t.Fatalf("job %d: %v", j.ID, err)
		}
		if args.MessageID != id {
			continue
		}
		if found != nil {
			t.Fatalf("message %d has send jobs %d and %d, want one", id, found.ID, j.ID)
		}
		found = j
	}
	if found == nil {
		t.Fatalf("message %d has no send job", id)
	}
	return found
}

// waitJob polls until the message's River job reaches a final state and
// returns it with the attempt count, failing after 30 s.
func (b *sendBundle) waitJob(t *testing.T, id int64) (state rivertype.JobState, attempt int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j := b.sendJob(t, id)
		switch j.State {
		case rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
			return j.State, j.Attempt
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %d's job is still %s after %d attempts", id, j.State, j.Attempt)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestSend_HappyPath(t *testing.T) {
	t.Parallel()
	b := setupSend(t, jobs.Config{MaxAttempts: 10}, 0)
	msg := b.queue(t, "+31611111111", "Dave will pick you up at 12:30 🚕")
	sent := b.waitStatus(t, msg.ID, ride.StatusSent)
	got := b.fake.Accepted()
	if len(got) != 1 {
		t.Fatalf("fake accepted %d messages, want 1", len(got))
	}
	a := got[0]
	if a.Reference != strconv.FormatInt(msg.ID, 10) || a.Originator != "3197000000001" || len(a.Recipients) != 1 ||
		a.Recipients[0] != "31611111111" || a.Body != msg.Body || a.ReportURL != "http://127.0.0.1:8080/webhook-status" {
		t.Errorf("fake accepted %+v", a)
	}
	if sent.ProviderID == nil || *sent.ProviderID != a.ID || sent.Attempts != 1 || sent.LastError != nil {
		t.Errorf("message after send = %+v, want provider id %s after 1 attempt", sent, a.ID)
	}
}

func TestSend_ServerErrorsThenSuccessSendsOnce(t *testing.T) {
	t.Parallel()
	b := setupSend(t, jobs.Config{MaxAttempts: 10}, 0)
	b.fake.FailNext(3)
	msg := b.queue(t, "+31611111111", "hello")
	sent := b.waitStatus(t, msg.ID, ride.StatusSent)
	if n := len(b.fake.Accepted()); n != 1 {
		t.Errorf("fake accepted %d messages, want exactly 1", n)
	}
	if c := b.fake.Counts(); c.Failed != 3 {
		t.Errorf("fake answered %d server errors, want 3", c.Failed)
	}
	if sent.Attempts != 4 {
		t.Errorf("attempts = %d, want 4", sent.Attempts)
	}
	state, attempt := b.waitJob(t, msg.ID)
	if state != rivertype.JobStateCompleted || attempt != 4 {
		t.Errorf("job %s after %d attempts, want completed after 4", state, attempt)
	}
}

func TestSend_PermanentErrorFailsWithoutRetry(t *testing.T) {
	t.Parallel()
	b := setupSend(t, jobs.Config{MaxAttempts: 10}, 0)
	b.fake.SetRejectRecipients("31619999999")
	msg := b.queue(t, "+31619999999", "hello")
	failed := b.waitStatus(t, msg.ID, ride.StatusFailed)
	if failed.Attempts != 1 || failed.LastError == nil || *failed.LastError == "" {
		t.Errorf("failed message = %+v, want 1 attempt and a reason", failed)
	}
	state, attempt := b.waitJob(t, msg.ID)
	if state != rivertype.JobStateCancelled || attempt != 1 {
		t.Errorf("job %s after %d attempts, want cancelled after 1", state, attempt)
	}
	if n := len(b.fake.Accepted()); n != 0 {
		t.Errorf("fake accepted %d messages, want 0", n)
	}
}

func TestSend_TimeoutIsRetried(t *testing.T) {
	t.Parallel()
	// Short enough to see two timeouts quickly, long enough that the
	// answered attempt after them is never mistaken for one.
	b := setupSend(t, jobs.Config{MaxAttempts: 10}, 2*time.Second)
	b.fake.SetTimeoutRate(1)
	msg := b.queue(t, "+31611111111", "hello")
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := b.message(t, msg.ID)
		if m.Attempts >= 2 {
			if m.LastError == nil || *m.LastError != "MessageBird timed out" {
				t.Errorf("last error after a timeout = %q", deref(m.LastError))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retry after a timeout: %+v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.fake.SetTimeoutRate(0)
	b.waitStatus(t, msg.ID, ride.StatusSent)
	if n := len(b.fake.Accepted()); n != 1 {
		t.Errorf("fake accepted %d messages, want 1", n)
	}
}

func TestSend_GivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	b := setupSend(t, jobs.Config{MaxAttempts: 3}, 0)
	b.fake.SetFailRate(1)
	msg := b.queue(t, "+31611111111", "hello")
	failed := b.waitStatus(t, msg.ID, ride.StatusFailed)
	if failed.Attempts != 3 || failed.LastError == nil || *failed.LastError != "gave up after 3 attempts: MessageBird unavailable (server error)" {
		t.Errorf("failed message = %+v (%s)", failed, deref(failed.LastError))
	}
}

func TestSend_AlreadyAcceptedIsNotSentAgain(t *testing.T) {
	t.Parallel()
	b := setupSend(t, jobs.Config{MaxAttempts: 10}, 0)
	ctx := t.Context()
	// The message is written without its job, so it is with MessageBird
	// before the job exists: as if an earlier attempt was accepted and
	// then its process died.
	msg := b.receive(t, b.quiet, "+31611111111", "hi")
	id := "mb-accepted-before"
	if ok, err := b.rides.ApplyReport(ctx, ride.Report{MessageID: msg.ID, Status: ride.ReportSent, ProviderID: &id}); err != nil || !ok {
		t.Fatalf("record acceptance: %v, %v", ok, err)
	}
	if _, err := b.client.Insert(ctx, ride.SendArgs{MessageID: msg.ID}, nil); err != nil {
		t.Fatal(err)
	}
	if state, _ := b.waitJob(t, msg.ID); state != rivertype.JobStateCompleted {
		t.Fatalf("job %s, want completed", state)
	}
	if n := len(b.fake.Accepted()); n != 0 {
		t.Errorf("fake accepted %d messages, want 0: the message was already with MessageBird", n)
	}
}
