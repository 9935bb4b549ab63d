package ride_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

// routed is a ride whose parties text and call through its number.
type routed struct {
	ride          ride.Ride
	customer, drv ride.Person
	proxy         string
	*testBundle
}

func activeRide(t testing.TB, conn ride.DB) routed {
	t.Helper()
	b := setup(t, conn)
	cust, drv, _ := b.People(t, 1)
	r := b.mustRide(t, cust, drv)
	return routed{ride: r, customer: cust, drv: drv, proxy: r.ProxyNumber, testBundle: b}
}

func TestReceiveSMS(t *testing.T) {
	t.Parallel()
	f := activeRide(t, nil)
	ctx := t.Context()
	text := func(id, from, to, body string) (ride.SMSOutcome, error) {
		return f.Rides.ReceiveSMS(ctx, ride.InboundSMS{ID: id, Originator: from, Recipient: to, Text: body})
	}
	t.Run("a party's text is forwarded to the other party from the number", func(t *testing.T) {
		outcome, err := text("mb-1", f.customer.Phone, f.proxy, "I'm at the gate 🚕")
		if err != nil || outcome != ride.SMSForwarded {
			t.Fatalf("outcome %q, %v; want forwarded", outcome, err)
		}
		fwd, err := f.Rides.ForwardOf(ctx, "mb-1")
		if err != nil || fwd == nil || fwd.Kind != ride.KindForward || fwd.Originator != f.proxy || fwd.Recipient != f.drv.Phone ||
			fwd.Body != "I'm at the gate 🚕" || fwd.Status != ride.StatusQueued || *fwd.RideID != f.ride.ID {
			t.Fatalf("forward = %+v, %v", fwd, err)
		}
		if jobs := sendJobs(t, f.testBundle); jobs[len(jobs)-1] != fwd.ID {
			t.Errorf("send jobs %v, want the last for the forward %d", jobs, fwd.ID)
		}
	})
	t.Run("a repeated delivery is handled once", func(t *testing.T) {
		before := dbtest.Rows(t, f.DB, "messages")
		outcome, err := text("mb-1", f.customer.Phone, f.proxy, "I'm at the gate 🚕")
		if err != nil || outcome != ride.SMSDuplicate || dbtest.Rows(t, f.DB, "messages") != before {
			t.Errorf("outcome %q, %v, messages %d → %d; want a duplicate that stores nothing", outcome, err, before, dbtest.Rows(t, f.DB, "messages"))
		}
	})
	t.Run("a stranger's text is recorded, not forwarded", func(t *testing.T) {
		outcome, err := text("mb-2", "+31699999999", f.proxy, "hello?")
		if err != nil || outcome != ride.SMSUnmatched {
			t.Fatalf("outcome %q, %v; want unmatched", outcome, err)
		}
		if fwd, err := f.Rides.ForwardOf(ctx, "mb-2"); err != nil || fwd != nil {
			t.Errorf("forward %+v, %v; want none", fwd, err)
		}
		o, err := f.Rides.Overview(ctx, 10)
		if err != nil || len(o.UnmatchedTexts) != 1 || o.UnmatchedTexts[0].Originator != "+31699999999" || o.UnmatchedTexts[0].Status != ride.StatusUnmatched {
			t.Errorf("unmatched texts %+v, %v", o.UnmatchedTexts, err)
		}
	})
	t.Run("a long text is clipped to 1,600 characters, marked", func(t *testing.T) {
		long := strings.Repeat("ü", 2000)
		if _, err := text("mb-3", f.drv.Phone, f.proxy, long); err != nil {
			t.Fatal(err)
		}
		fwd, err := f.Rides.ForwardOf(ctx, "mb-3")
		if err != nil || utf8.RuneCountInString(fwd.Body) != 1600 || !strings.HasSuffix(fwd.Body, "ü…") || fwd.Recipient != f.customer.Phone {
			t.Errorf("forward of %d characters ending %q (%v)", utf8.RuneCountInString(fwd.Body), fwd.Body[len(fwd.Body)-6:], err)
		}
	})
}

// TestReceiveSMS_SameIDConcurrentlyForwardsOnce delivers one MessageBird
// id ten times at once, in committed transactions: one forward results.
func TestReceiveSMS_SameIDConcurrentlyForwardsOnce(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	f := activeRide(t, pool)
	outcomes := make([]ride.SMSOutcome, 10)
	var wg sync.WaitGroup
	for i := range outcomes {
		wg.Go(func() {
			var err error
			outcomes[i], err = f.Rides.ReceiveSMS(t.Context(), ride.InboundSMS{ID: "mb-dup", Originator: f.customer.Phone, Recipient: f.proxy, Text: "once"})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	counts := map[ride.SMSOutcome]int{}
	for _, o := range outcomes {
		counts[o]++
	}
	if counts[ride.SMSForwarded] != 1 || counts[ride.SMSDuplicate] != 9 {
		t.Errorf("outcomes %v, want one forwarded and nine duplicates", counts)
	}
	// Two notifications and one forward, each with its job.
	if m, j := dbtest.Rows(t, pool, "messages"), dbtest.Rows(t, pool, "river_job"); m != 4 || j != 3 {
		t.Errorf("%d messages and %d jobs, want 4 (inbound included) and 3", m, j)
	}
}

func TestApplyReport(t *testing.T) {
	t.Parallel()
	f := activeRide(t, nil)
	ctx := t.Context()
	out, err := f.Rides.Outbox(ctx)
	if err != nil || len(out) != 2 {
		t.Fatalf("outbox %v, %v; want the two notifications", out, err)
	}
	id := out[0].ID
	// Before the clock's 12:00: a report dated ahead of it is capped.
	at := time.Date(2026, 5, 1, 11, 58, 0, 0, time.UTC)
	status := func() ride.Message {
		t.Helper()
		out, err := f.Rides.Outbox(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out {
			if m.ID == id {
				return m
			}
		}
		t.Fatalf("message %d gone", id)
		return ride.Message{}
	}
	reason := "MessageBird: delivery_failed unknown subscriber (error 1)"
	for _, tt := range []struct {
		name    string
		rep     ride.Report
		applied bool
		want    ride.MessageStatus
	}{
		{"sent, with MessageBird's id", ride.Report{MessageID: id, Status: ride.ReportSent, ProviderID: ptr("mb-out-1"), At: at}, true, ride.StatusSent},
		{"delivered", ride.Report{MessageID: id, Status: ride.ReportDelivered, At: at.Add(time.Second)}, true, ride.StatusDelivered},
		{"an older report changes nothing", ride.Report{MessageID: id, Status: ride.ReportFailed, Reason: &reason, At: at}, false, ride.StatusDelivered},
		{"a newer failure wins, with its reason", ride.Report{MessageID: id, Status: ride.ReportFailed, Reason: &reason, At: at.Add(time.Minute)}, true, ride.StatusFailed},
		{"an unknown message changes nothing", ride.Report{MessageID: 999999, Status: ride.ReportDelivered, At: at}, false, ride.StatusFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			applied, err := f.Rides.ApplyReport(ctx, tt.rep)
			if err != nil || applied != tt.applied {
				t.Fatalf("applied %v, %v; want %v", applied, err, tt.applied)
			}
			if m := status(); m.Status != tt.want {
				t.Errorf("status %s, want %s", m.Status, tt.want)
			}
		})
	}
	if m := status(); m.LastError == nil || *m.LastError != reason {
		t.Errorf("last error %v, want the report's reason", m.LastError)
	}
}

// TestApplyReport_FutureTimeIsCapped: a forged report dated years ahead
// outranks the real reports for a minute at most, not until its date.
func TestApplyReport_FutureTimeIsCapped(t *testing.T) {
	t.Parallel()
	f := activeRide(t, nil)
	ctx := t.Context()
	out, err := f.Rides.Outbox(ctx)
	if err != nil || len(out) != 2 {
		t.Fatalf("outbox %v, %v; want the two notifications", out, err)
	}
	id := out[0].ID
	apply := func(status ride.ReportStatus, at time.Time) bool {
		t.Helper()
		applied, err := f.Rides.ApplyReport(ctx, ride.Report{MessageID: id, Status: status, At: at})
		if err != nil {
			t.Fatal(err)
		}
		return applied
	}
	status := func() ride.MessageStatus {
		t.Helper()
		out, err := f.Rides.Outbox(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out {
			if m.ID == id {
				return m.Status
			}
		}
		t.Fatalf("message %d gone", id)
		return ""
	}
	if !apply(ride.ReportFailed, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) || status() != ride.StatusFailed {
		t.Fatalf("the forged report was not applied: %s", status())
	}
	// Within the minute it counts as dated now plus a minute.
	if apply(ride.ReportDelivered, f.Clock.Now().Add(30*time.Second)) || status() != ride.StatusFailed {
		t.Errorf("a report older than the capped one was applied: %s", status())
	}
	// Past it, the real reports move the message on again.
	f.Clock.Advance(2 * time.Minute)
	if !apply(ride.ReportDelivered, f.Clock.Now()) || status() != ride.StatusDelivered {
		t.Errorf("two minutes on, a current report was ignored: status %s", status())
	}
	// A report dated within the allowed skew keeps its time.
	if !apply(ride.ReportSent, f.Clock.Now().Add(50*time.Second)) || apply(ride.ReportDelivered, f.Clock.Now().Add(40*time.Second)) {
		t.Errorf("a report 50 s ahead did not keep its time over one 40 s ahead")
	}
}

func ptr[T any](v T) *T { return &v }

func TestTimeline(t *testing.T) {
	t.Parallel()
	f := activeRide(t, nil)
	ctx := t.Context()
	f.Clock.Advance(time.Minute)
	if _, err := f.Rides.ReceiveSMS(ctx, ride.InboundSMS{ID: "in-1", Originator: f.customer.Phone, Recipient: f.proxy, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(time.Minute)
	f.call(t, f.drv.Phone, f.proxy)
	f.call(t, "+31699999999", f.proxy) // a stranger: not in the ride's timeline
	if _, err := f.Rides.EndRide(ctx, f.ride.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(25 * time.Hour) // past the grace period
	f.call(t, f.customer.Phone, f.proxy)
	if _, err := f.Rides.ReceiveSMS(ctx, ride.InboundSMS{ID: "in-2", Originator: f.drv.Phone, Recipient: f.proxy, Text: "forgot my bag"}); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(24 * time.Hour) // past the window strays show in
	if _, err := f.Rides.ReceiveSMS(ctx, ride.InboundSMS{ID: "in-3", Originator: f.drv.Phone, Recipient: f.proxy, Text: "too late"}); err != nil {
		t.Fatal(err)
	}

	r, err := f.Rides.Ride(ctx, f.ride.ID)
	if err != nil {
		t.Fatal(err)
	}
	events, err := f.Rides.Timeline(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	who := func(p ride.Party) string {
		switch {
		case p.Role != "":
			return string(p.Role)
		case p.Phone == f.proxy:
			return "number"
		}
		return p.Phone
	}
	var got []string
	for _, ev := range events {
		if ev.Audit != nil {
			got = append(got, fmt.Sprintf("audit %s by %s", ev.Audit.Action, ev.Audit.Actor.Name))
			continue
		}
		what := "call"
		if ev.Message != nil {
			what = string(ev.Message.Kind)
		}
		got = append(got, fmt.Sprintf("%s %s→%s routed=%v", what, who(ev.From), who(ev.To), ev.Routed))
	}
	// Oldest first, with the ride's creation and end. The notifications and the forward are stamped by the
	// database's clock, later than the test's (May 2026), so they come
	// last. The stranger's call and the text past the stray window are
	// not the ride's.
	want := []string{
		"audit ride.create by system",
		"inbound customer→number routed=true",
		"call driver→customer routed=true",
		"audit ride.end by system",
		"inbound driver→number routed=false",
		"call customer→number routed=false",
		"notification number→customer routed=true",
		"notification number→driver routed=true",
		"forward number→driver routed=true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestReceiveSMS_SendJobAsRiverWritesIt compares the send job the
// one-statement path writes for a forward with the one River's client
// inserts for the same arguments: every column River reads agrees.
func TestReceiveSMS_SendJobAsRiverWritesIt(t *testing.T) {
	t.Parallel()
	f := activeRide(t, nil)
	ctx := t.Context()
	if _, err := f.Rides.ReceiveSMS(ctx, ride.InboundSMS{ID: "mb-job", Originator: f.customer.Phone, Recipient: f.proxy, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	fwd, err := f.Rides.ForwardOf(ctx, "mb-job")
	if err != nil || fwd == nil {
		t.Fatalf("forward %v, %v", fwd, err)
	}
	tx := f.DB.(pgx.Tx)
	if _, err := f.Rides.Jobs.InsertTx(ctx, tx, ride.SendArgs{MessageID: fwd.ID}, nil); err != nil {
		t.Fatal(err)
	}
	const columns = `SELECT args::text, kind, max_attempts, priority, queue, state::text, tags::text, metadata::text,
		unique_key IS NULL, unique_states IS NULL, attempt, errors IS NULL, scheduled_at = created_at
		FROM river_job WHERE (args->>'message_id')::bigint = $1 ORDER BY id`
	rows, err := tx.Query(ctx, columns, fwd.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		vals, err := r.Values()
		return fmt.Sprint(vals), err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != got[1] {
		t.Errorf("send jobs for the forward:\n%s\nwant two alike: ours first, River's second", strings.Join(got, "\n"))
	}
}
