package ride_test

import (
	"testing"
	"time"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

// traces counts the values in every text-like column of every table
// (BirdCar's and River's) that contain any of needles.
func traces(t *testing.T, conn ride.DB, needles ...string) map[string]int {
	t.Helper()
	ctx := t.Context()
	rows, err := conn.Query(ctx, `SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea', 'USER-DEFINED', 'ARRAY')
		AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE')`)
	if err != nil {
		t.Fatal(err)
	}
	var cols [][4]string
	for rows.Next() {
		var c [4]string
		if err := rows.Scan(&c[0], &c[1], &c[2], &c[3]); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if rows.Err() != nil || len(cols) < 20 {
		t.Fatalf("%d text columns found (%v): the scan would prove nothing", len(cols), rows.Err())
	}
	found := map[string]int{}
	for _, c := range cols {
		for _, n := range needles {
			var k int
			where := `position($1 IN "` + c[2] + `"::text) > 0`
			if c[3] == "bytea" { // as stored, not as hex
				where = `position(convert_to($1, 'UTF8') IN "` + c[2] + `") > 0`
			}
			q := `SELECT count(*) FROM "` + c[0] + `"."` + c[1] + `" WHERE ` + where
			if err := conn.QueryRow(ctx, q, n).Scan(&k); err != nil {
				t.Fatalf("%s.%s: %v", c[1], c[2], err)
			}
			if k > 0 {
				found[c[1]+"."+c[2]+" has "+n] += k
			}
		}
	}
	return found
}

func TestErasePerson(t *testing.T) {
	t.Parallel()
	f := activeRide(t, nil) // customer Caitlin +31611111111, driver Dave +31622222222
	ctx := t.Context()
	name, e164 := "Zofia Wiśniewska", "+31612345678"
	zofia, err := f.Rides.UpdatePerson(ctx, ride.RoleCustomer, f.customer.ID, ride.PersonInput{Name: name, Phone: e164})
	if err != nil {
		t.Fatal(err)
	}
	// Her phone before the change is on the first ride's routes.
	f.Number(t, "+3197000000002", "NL")
	second := f.mustRide(t, zofia, f.drv)
	for i, from := range []string{e164, f.drv.Phone} {
		if _, err := f.Rides.ReceiveSMS(ctx, ride.InboundSMS{ID: "in-" + itoa(int64(i)), Originator: from, Recipient: second.ProxyNumber, Text: "Zofia here, at the gate"}); err != nil {
			t.Fatal(err)
		}
	}
	f.call(t, e164, second.ProxyNumber)
	f.call(t, e164, "+3197000000999") // nobody's number: unmatched
	if _, err := f.Rides.ReceiveSMS(ctx, ride.InboundSMS{ID: "stray", Originator: e164, Recipient: "+3197000000999", Text: "wrong number, Zofia"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Rides.Idempotent(ctx, ride.IdempotencyKey{Scope: "s", Key: "k", Fingerprint: []byte{1}}, func(*ride.Service) (ride.Replay, error) {
		return ride.Replay{Status: 201, Body: []byte(`{"name":"` + name + `","phone":"` + e164 + `"}`)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	needles := []string{name, "Zofia", e164, "31612345678", "612345678", "611111111"}
	before := traces(t, f.DB, needles...)
	for _, where := range []string{"customers.name has " + name, "messages.body has Zofia", "routes.caller_phone has " + e164,
		"calls.source has 31612345678", "api_idempotency.body has " + name} {
		if before[where] == 0 {
			t.Fatalf("before erasure, no %q (found %v): the scan would prove nothing", where, before)
		}
	}

	err = f.Rides.ErasePerson(ctx, ride.RoleCustomer, zofia.ID)
	wantCode(t, err, ride.CodePersonInSession, "")
	for _, r := range []ride.Ride{f.ride, second} {
		if _, err := f.Rides.EndRide(ctx, r.ID, ride.RideCompleted); err != nil {
			t.Fatal(err)
		}
	}
	f.Clock.Advance(f.Rides.GracePeriod - time.Minute)
	wantCode(t, f.Rides.ErasePerson(ctx, ride.RoleCustomer, zofia.ID), ride.CodePersonInSession, "")

	f.Clock.Advance(time.Minute)
	if err := f.Rides.ErasePerson(ctx, ride.RoleCustomer, zofia.ID); err != nil {
		t.Fatal(err)
	}
	if left := traces(t, f.DB, needles...); len(left) > 0 {
		t.Errorf("after erasure, still in the database: %v", left)
	}
	var addresses int
	f.DB.QueryRow(ctx, `SELECT count(*) FROM rides WHERE customer_id = $1 AND (start_address <> 'redacted' OR destination <> 'redacted')`, zofia.ID).Scan(&addresses)
	if addresses != 0 {
		t.Errorf("%d of her rides keep their addresses", addresses)
	}
	got, err := f.Rides.Person(ctx, ride.RoleCustomer, zofia.ID)
	if err != nil || !got.Erased() || got.Name == name {
		t.Errorf("erased person reads %+v, %v", got, err)
	}
	if err := f.Rides.ErasePerson(ctx, ride.RoleCustomer, zofia.ID); err != nil {
		t.Errorf("erasing again: %v", err)
	}
	// The driver's rides keep their times and statuses.
	if n := dbtest.Rows(t, f.DB, "rides"); n != 2 {
		t.Errorf("%d rides left, want both", n)
	}
}

func TestRedactExpired(t *testing.T) {
	t.Parallel()
	f := activeRide(t, nil)
	ctx := t.Context()
	f.Rides.Retention = 90 * 24 * time.Hour
	if _, err := f.Rides.ReceiveSMS(ctx, ride.InboundSMS{ID: "a", Originator: f.customer.Phone, Recipient: f.proxy, Text: "see you at the gate"}); err != nil {
		t.Fatal(err)
	}
	f.call(t, f.customer.Phone, f.proxy)
	if _, err := f.Rides.EndRide(ctx, f.ride.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	f.Number(t, "+3197000000002", "NL")
	newer := f.mustRide(t, f.customer, f.drv)

	f.Clock.Advance(f.Rides.GracePeriod + f.Rides.Retention - time.Hour)
	if n, err := f.Rides.RedactExpired(ctx); err != nil || n != 0 {
		t.Fatalf("redacted %d rides (%v) an hour early", n, err)
	}
	f.Clock.Advance(2 * time.Hour)
	if n, err := f.Rides.RedactExpired(ctx); err != nil || n != 1 {
		t.Fatalf("redacted %d rides (%v), want the ended one", n, err)
	}
	var left int
	if err := f.DB.QueryRow(ctx, `SELECT count(*) FROM messages m JOIN rides r ON r.id = m.ride_id
		WHERE r.id = $1 AND (m.body <> '' OR m.originator <> '' OR m.recipient <> '')`, f.ride.ID).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d of the old ride's texts keep a body or phone (%v)", left, err)
	}
	var kept, routes int
	f.DB.QueryRow(ctx, `SELECT count(*) FROM messages WHERE ride_id = $1`, f.ride.ID).Scan(&kept)
	f.DB.QueryRow(ctx, `SELECT count(*) FROM routes WHERE ride_id = $1`, f.ride.ID).Scan(&routes)
	if kept < 3 || routes != 0 {
		t.Errorf("old ride: %d texts kept (want its 3 counted), %d routes (want none)", kept, routes)
	}
	var calls int
	f.DB.QueryRow(ctx, `SELECT count(*) FROM calls WHERE ride_id = $1 AND source || destination || coalesce(transferred_to, '') <> ''`, f.ride.ID).Scan(&calls)
	if calls != 0 {
		t.Errorf("%d of the old ride's calls keep a phone", calls)
	}
	if n := dbtest.Rows(t, f.DB, "routes"); n != 2 {
		t.Errorf("%d routes, want the newer ride's 2 (ride %d)", n, newer.ID)
	}
	if n, err := f.Rides.RedactExpired(ctx); err != nil || n != 0 {
		t.Errorf("a second run redacted %d (%v), want none", n, err)
	}
}

// waitBlocked waits until a statement of another session waits for a lock.
func waitBlocked(t *testing.T, conn ride.DB) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Fatal("no session ever waited for the lock")
}

// inOpenTx runs fn on a Service bound to an open transaction, and returns
// its commit.
func inOpenTx(t *testing.T, b *testBundle, fn func(*ride.Service)) func() {
	t.Helper()
	tx, err := b.DB.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	svc := *b.Rides
	svc.DB = tx
	fn(&svc)
	return func() {
		if err := tx.Commit(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestErasePerson_Races: an erasure and a ride created for the same person,
// or a text from them after their ride, never interleave.
func TestErasePerson_Races(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	b := setup(t, pool)
	b.Rides.OutOfSessionWindow, b.Rides.OutOfSessionReply = 7*24*time.Hour, "Your ride has ended."
	c, d, _ := b.People(t, 3)
	ctx := t.Context()
	newRide := ride.NewRide{CustomerID: c.ID, DriverID: d.ID, Start: "A", Destination: "B", PickupAt: b.Clock.Now()}

	var r ride.Ride
	t.Run("a ride being created first makes the erasure wait and refuse", func(t *testing.T) {
		commit := inOpenTx(t, b, func(svc *ride.Service) {
			var err error
			if r, err = svc.CreateRide(ctx, newRide); err != nil {
				t.Fatal(err)
			}
		})
		erased := make(chan error)
		go func() { erased <- b.Rides.ErasePerson(ctx, ride.RoleCustomer, c.ID) }()
		waitBlocked(t, pool)
		commit()
		wantCode(t, <-erased, ride.CodePersonInSession, "")
		if _, err := b.Rides.EndRide(ctx, r.ID, ride.RideCancelled); err != nil {
			t.Fatal(err)
		}
	})
	b.Clock.Advance(b.Rides.GracePeriod + time.Minute)

	t.Run("a text from a past party waits for the erasure and gets no reply", func(t *testing.T) {
		commit := inOpenTx(t, b, func(svc *ride.Service) {
			if err := svc.ErasePerson(ctx, ride.RoleCustomer, c.ID); err != nil {
				t.Fatal(err)
			}
		})
		proxy := r.ProxyNumber
		texted := make(chan error)
		go func() {
			_, err := b.Rides.ReceiveSMS(ctx, ride.InboundSMS{ID: "late", Originator: c.Phone, Recipient: proxy, Text: "my bag?"})
			texted <- err
		}()
		waitBlocked(t, pool)
		commit()
		if err := <-texted; err != nil {
			t.Fatal(err)
		}
		var replies, marks int
		pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE kind = 'out_of_session'`).Scan(&replies)
		pool.QueryRow(ctx, `SELECT count(*) FROM out_of_session_replies`).Scan(&marks)
		if replies != 0 || marks != 0 {
			t.Errorf("after erasure: %d replies, %d reply marks; want none", replies, marks)
		}
	})

	t.Run("a ride for a person being erased waits and is refused", func(t *testing.T) {
		other := b.Person(t, ride.RoleCustomer, "Olga", "+31655555555")
		commit := inOpenTx(t, b, func(svc *ride.Service) {
			if err := svc.ErasePerson(ctx, ride.RoleCustomer, other.ID); err != nil {
				t.Fatal(err)
			}
		})
		created := make(chan error)
		go func() {
			in := newRide
			in.CustomerID, in.PickupAt = other.ID, b.Clock.Now()
			_, err := b.Rides.CreateRide(ctx, in)
			created <- err
		}()
		waitBlocked(t, pool)
		commit()
		wantCode(t, <-created, ride.CodeInvalid, "customer_id")
	})

	t.Run("an erased person cannot be given a name and phone again", func(t *testing.T) {
		phone := "+31666666666"
		_, err := b.Rides.PatchPerson(ctx, ride.RoleCustomer, c.ID, ride.PersonPatch{Phone: &phone})
		wantCode(t, err, ride.CodePersonErased, "")
	})
}
