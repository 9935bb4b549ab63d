package ride_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

// Texts arriving together are committed in groups and each is forwarded
// exactly once, however often it is delivered; a text the database refuses
// fails alone; delivery reports are applied in groups too; the consoles hear of them from the announcer (the texts'
// own transactions notify no one: the test below).
func TestBatcher_TextsForwardedOnceAndAnnounced(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	f := activeRide(t, pool)
	feed := ride.NewFeed(f.Rides, pool, 1)
	f.Rides.Announce, f.Rides.Batch = ride.NewAnnouncer(f.Rides), ride.NewBatcher(f.Rides)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context){feed.Run, f.Rides.Announce.Run, f.Rides.Batch.Run} {
		wg.Go(func() { run(ctx) })
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	sub, err := feed.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	waitFor(t, "feed live", feed.Live)
	for drained(sub) {
		sub.Take() // what the feed said on connecting
	}

	const n = 60
	before := dbtest.Rows(t, pool, "river_job")
	send := func() (map[ride.SMSOutcome]int, []error) {
		var mu sync.Mutex
		outcomes := map[ride.SMSOutcome]int{}
		var errs []error
		var wg sync.WaitGroup
		for i := range n + 1 {
			wg.Go(func() {
				in := ride.InboundSMS{ID: fmt.Sprintf("mb-%d", i), Originator: f.customer.Phone, Recipient: f.proxy, Text: "on my way"}
				if i == n {
					in.ID, in.Text = "mb-refused", "a NUL \x00 PostgreSQL refuses"
				}
				out, err := f.Rides.ReceiveSMS(t.Context(), in)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else {
					outcomes[out]++
				}
			})
		}
		wg.Wait()
		return outcomes, errs
	}
	got, errs := send()
	if got[ride.SMSForwarded] != n || len(errs) != 1 {
		t.Fatalf("%d texts and a refused one at once: %v, errors %v; want %d forwarded, one error", n, got, errs, n)
	}
	got, errs = send()
	if got[ride.SMSDuplicate] != n || len(errs) != 1 {
		t.Fatalf("the same texts again: %v, errors %v; want %d duplicates", got, errs, n)
	}
	var forwards int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM messages WHERE kind = 'forward' AND ride_id = $1`, f.ride.ID).Scan(&forwards); err != nil {
		t.Fatal(err)
	}
	if jobs := dbtest.Rows(t, pool, "river_job") - before; forwards != n || jobs != n {
		t.Errorf("%d forwards and %d send jobs, want %d of each", forwards, jobs, n)
	}

	// Delivery reports arriving together are applied in groups, each once.
	rows, err := pool.Query(t.Context(), `SELECT id FROM messages WHERE kind = 'forward' AND ride_id = $1`, f.ride.ID)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	at := f.Clock.Now()
	report := func(status ride.ReportStatus, at time.Time) (applied int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Go(func() {
				ok, err := f.Rides.ApplyReport(t.Context(), ride.Report{MessageID: id, Status: status, At: at})
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				defer mu.Unlock()
				if ok {
					applied++
				}
			})
		}
		wg.Wait()
		return applied
	}
	if got := report(ride.ReportDelivered, at); got != n {
		t.Errorf("%d delivery reports at once: %d applied", n, got)
	}
	if got := report(ride.ReportSent, at.Add(-time.Minute)); got != 0 {
		t.Errorf("%d older reports: %d applied, want none", n, got)
	}
	var delivered int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM messages WHERE kind = 'forward' AND ride_id = $1 AND status = 'delivered'`, f.ride.ID).Scan(&delivered); err != nil {
		t.Fatal(err)
	}
	if delivered != n {
		t.Errorf("%d forwards delivered, want %d", delivered, n)
	}

	// The feed hears of them from the announcer.
	want := ride.Change{Kind: ride.ChangeMessage, RideID: f.ride.ID}
	deadline := time.After(5 * time.Second)
	for seen := false; !seen; {
		select {
		case <-sub.Ready():
			for _, c := range sub.Take() {
				seen = seen || c == want
			}
		case <-deadline:
			t.Fatalf("no %+v within 5 s", want)
		}
	}
}

// drained reports whether sub had nothing waiting.
func drained(sub *ride.Subscription) bool {
	select {
	case <-sub.Ready():
		return true
	default:
		return false
	}
}

// A quiet transaction's changes to messages and calls notify no one; any
// other transaction's still do.
func TestConsoleNotify_QuietTransactionsNotifyNoOne(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	f := activeRide(t, pool)
	conn, err := pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(t.Context(), "LISTEN birdcar_console"); err != nil {
		t.Fatal(err)
	}
	update := func(quiet bool, sql string) {
		t.Helper()
		err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
			if quiet {
				if _, err := tx.Exec(t.Context(), `SELECT set_config('birdcar.console', 'quiet', true)`); err != nil {
					return err
				}
			}
			_, err := tx.Exec(t.Context(), sql, f.ride.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Notices arrive in commit order: the first after the quiet ones is
	// the ride's own.
	update(true, `UPDATE messages SET attempts = attempts WHERE ride_id = $1`)
	update(true, `INSERT INTO calls (call_id, source, destination, ride_id, outcome, transferred_to) VALUES ('quiet', '+1', '+2', $1, 'transferred', '+3')`)
	update(false, `UPDATE rides SET start_address = start_address WHERE id = $1`)
	update(false, `UPDATE messages SET attempts = attempts WHERE ride_id = $1`)
	var got []string
	for len(got) < 2 {
		n, err := conn.Conn().WaitForNotification(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n.Payload)
	}
	id := itoa(f.ride.ID)
	if got[0] != "ride:"+id || got[1] != "message:"+id {
		t.Errorf("notices %q, want only the two loud transactions' (ride:%s, message:%s)", got, id, id)
	}
}

// TestForwardGroup_OneStatementForManyTexts commits a group holding texts
// of the ride's two parties, a stranger's, and one text twice (MessageBird
// delivering it again before the first was answered): each routed text is
// forwarded once, the stranger's is left to ReceiveSMS, and the repeat is
// no second forward. The group's rows come back to the texts they belong
// to, in the order the texts were given, not MessageBird's ids' order.
func TestForwardGroup_OneStatementForManyTexts(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	f := activeRide(t, pool)
	texts := []ride.InboundSMS{
		{ID: "mb-9", Originator: f.customer.Phone, Recipient: f.proxy, Text: "at the door"},
		{ID: "mb-1", Originator: "+31699999999", Recipient: f.proxy, Text: "who is this"},
		{ID: "mb-5", Originator: f.drv.Phone, Recipient: f.proxy, Text: "two minutes"},
		{ID: "mb-9", Originator: f.customer.Phone, Recipient: f.proxy, Text: "at the door"},
	}
	routed, queued, err := ride.ForwardGroup(t.Context(), f.Rides, texts)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, true, true}; !slices.Equal(routed, want) {
		t.Errorf("routed %v, want %v", routed, want)
	}
	if want := []bool{true, false, true, false}; !slices.Equal(queued, want) {
		t.Errorf("queued %v, want %v (the repeat of mb-9 is not forwarded again)", queued, want)
	}
	rows, err := pool.Query(t.Context(), `SELECT f.recipient, f.body FROM messages f JOIN messages i ON i.id = f.forward_of
		JOIN river_job j ON (j.args->>'message_id')::bigint = f.id WHERE f.kind = 'forward' ORDER BY i.received_id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var to, body string
		err := r.Scan(&to, &body)
		return to + " " + body, err
	})
	if want := []string{f.customer.Phone + " two minutes", f.drv.Phone + " at the door"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("forwards with their send jobs: %v (%v), want %v", got, err, want)
	}
	if _, queued, err = ride.ForwardGroup(t.Context(), f.Rides, texts[:1]); err != nil || queued[0] {
		t.Errorf("mb-9 delivered a third time: queued %v (%v), want a duplicate", queued, err)
	}
}
