package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"birdcar/jobs"
	"birdcar/jobs/fakebird"
	"birdcar/sql/db"
	"birdcar/sql/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// fastRetry retries almost at once, so a test sees River's retries in milliseconds.
type fastRetry struct{}

func (fastRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(10 * time.Millisecond) }

type sendBundle struct {
	pool   *pgxpool.Pool
	fake   *fakebird.Server
	client *river.Client[pgx.Tx]
}

// setupSend starts a fake MessageBird, the real SDK sender pointed at it,
// and a River client with the real workers on a fresh database.
func setupSend(t *testing.T, maxAttempts int) *sendBundle {
	t.Helper()
	pool, _ := dbtest.FreshDB(t)
	fake, err := fakebird.Start(fakebird.Options{Key: "test_key"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	sender, err := jobs.NewMessageBirdSender(jobs.MessageBirdConfig{
		APIKey: "test_key", BaseURL: fake.URL, ReportURL: "http://127.0.0.1:8080/webhook-status", Timeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	client, err := jobs.NewClient(jobs.Config{
		Pool: pool, Sender: sender, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxAttempts: maxAttempts, GracePeriod: time.Hour, AutoEndAfter: 12 * time.Hour, RetryPolicy: fastRetry{},
	})
	if err != nil {
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
	return &sendBundle{pool: pool, fake: fake, client: client}
}

// queue writes an outbound message and its job, as ride creation does.
func (b *sendBundle) queue(t *testing.T, to, body string) db.Message {
	t.Helper()
	ctx := t.Context()
	var msg db.Message
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) (err error) {
		msg, err = db.New(tx).MessageCreateOutbound(ctx, db.MessageCreateOutboundParams{
			Kind: "notification", Originator: "+3197000000001", Recipient: to, Body: body})
		if err != nil {
			return err
		}
		_, err = b.client.InsertTx(ctx, tx, jobs.SendArgs{MessageID: msg.ID}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// waitStatus polls until the message reaches status, failing after 10 s.
func (b *sendBundle) waitStatus(t *testing.T, id int64, status string) db.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg, err := db.New(b.pool).MessageGet(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Status == status {
			return msg
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %d is %q (attempts %d, last error %v), want %q", id, msg.Status, msg.Attempts, deref(msg.LastError), status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitJob polls until the message's River job reaches a final state and
// returns it with the attempt count.
func (b *sendBundle) waitJob(t *testing.T, id int64) (state string, attempt int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := b.pool.QueryRow(t.Context(), "SELECT state::text, attempt FROM river_job WHERE kind = 'send_sms' AND (args->>'message_id')::bigint = $1", id).Scan(&state, &attempt)
		if err != nil {
			t.Fatal(err)
		}
		if state == "completed" || state == "cancelled" || state == "discarded" || time.Now().After(deadline) {
			return state, attempt
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
	b := setupSend(t, 10)
	msg := b.queue(t, "+31611111111", "Dave will pick you up at 12:30 🚕")
	sent := b.waitStatus(t, msg.ID, "sent")
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
	b := setupSend(t, 10)
	b.fake.FailNext(3)
	msg := b.queue(t, "+31611111111", "hello")
	sent := b.waitStatus(t, msg.ID, "sent")
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
	if state != "completed" || attempt != 4 {
		t.Errorf("job %s after %d attempts, want completed after 4", state, attempt)
	}
}

func TestSend_PermanentErrorFailsWithoutRetry(t *testing.T) {
	t.Parallel()
	b := setupSend(t, 10)
	b.fake.SetRejectRecipients("31699999999")
	msg := b.queue(t, "+31699999999", "hello")
	failed := b.waitStatus(t, msg.ID, "failed")
	if failed.Attempts != 1 || failed.LastError == nil || *failed.LastError == "" {
		t.Errorf("failed message = %+v, want 1 attempt and a reason", failed)
	}
	state, attempt := b.waitJob(t, msg.ID)
	if state != "cancelled" || attempt != 1 {
		t.Errorf("job %s after %d attempts, want cancelled after 1", state, attempt)
	}
	if n := len(b.fake.Accepted()); n != 0 {
		t.Errorf("fake accepted %d messages, want 0", n)
	}
}

func TestSend_TimeoutIsRetried(t *testing.T) {
	t.Parallel()
	b := setupSend(t, 10)
	b.fake.SetTimeoutRate(1)
	msg := b.queue(t, "+31611111111", "hello")
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := db.New(b.pool).MessageGet(t.Context(), msg.ID)
		if err != nil {
			t.Fatal(err)
		}
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
	b.waitStatus(t, msg.ID, "sent")
	if n := len(b.fake.Accepted()); n != 1 {
		t.Errorf("fake accepted %d messages, want 1", n)
	}
}

func TestSend_GivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	b := setupSend(t, 3)
	b.fake.SetFailRate(1)
	msg := b.queue(t, "+31611111111", "hello")
	failed := b.waitStatus(t, msg.ID, "failed")
	if failed.Attempts != 3 || failed.LastError == nil || *failed.LastError != "gave up after 3 attempts: MessageBird unavailable (server error)" {
		t.Errorf("failed message = %+v (%s)", failed, deref(failed.LastError))
	}
}

func TestSend_AlreadyAcceptedIsNotSentAgain(t *testing.T) {
	t.Parallel()
	b := setupSend(t, 10)
	ctx := t.Context()
	var msg db.Message
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) (err error) {
		q := db.New(tx)
		if msg, err = q.MessageCreateOutbound(ctx, db.MessageCreateOutboundParams{
			Kind: "notification", Originator: "+3197000000001", Recipient: "+31611111111", Body: "hi"}); err != nil {
			return err
		}
		// As if an earlier attempt was accepted and then its process died.
		id := "mb-accepted-before"
		if err := q.MessageMarkSent(ctx, db.MessageMarkSentParams{ID: msg.ID, ProviderID: &id}); err != nil {
			return err
		}
		_, err = b.client.InsertTx(ctx, tx, jobs.SendArgs{MessageID: msg.ID}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if state, _ := b.waitJob(t, msg.ID); state != "completed" {
		t.Fatalf("job %s, want completed", state)
	}
	if n := len(b.fake.Accepted()); n != 0 {
		t.Errorf("fake accepted %d messages, want 0: the message was already with MessageBird", n)
	}
}
