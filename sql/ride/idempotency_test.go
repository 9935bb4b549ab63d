package ride_test

import (
	"fmt"
	"testing"
	"time"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

func TestIdempotent(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t) // a second request needs its own connection
	b := setup(t, pool)
	cust, drv, _ := b.People(t, 5)
	in := ride.NewRide{CustomerID: cust.ID, DriverID: drv.ID, Start: "A", Destination: "B", PickupAt: b.Clock.Now()}
	key := func(k, body string) ride.IdempotencyKey {
		return ride.IdempotencyKey{Scope: "token-a", Key: k, Fingerprint: []byte("POST /rides " + body)}
	}
	runs := 0
	create := func(in ride.NewRide) func(*ride.Service) (ride.Replay, error) {
		return func(svc *ride.Service) (ride.Replay, error) {
			runs++
			r, err := svc.CreateRide(t.Context(), in)
			return ride.Replay{Status: 201, Body: fmt.Appendf(nil, `{"id": %d}`, r.ID)}, err
		}
	}
	t.Run("a failed request stores nothing", func(t *testing.T) {
		bad := in
		bad.Start = ""
		_, _, err := b.Rides.Idempotent(t.Context(), key("k1", "bad"), create(bad))
		wantCode(t, err, ride.CodeInvalid, "start")
	})
	first, replayed, err := b.Rides.Idempotent(t.Context(), key("k1", "good"), create(in))
	if err != nil || replayed {
		t.Fatalf("first: %v, replayed %v", err, replayed)
	}
	runs = 0
	t.Run("the same request replays the first answer", func(t *testing.T) {
		again, replayed, err := b.Rides.Idempotent(t.Context(), key("k1", "good"), create(in))
		if err != nil || !replayed || again.Status != first.Status || string(again.Body) != string(first.Body) || runs != 0 {
			t.Errorf("replay = %d %s (%v, replayed %v), ran %d times; want %d %s, not run", again.Status, again.Body, err, replayed, runs, first.Status, first.Body)
		}
		if n := dbtest.Rows(t, b.DB, "rides"); n != 1 {
			t.Errorf("%d rides, want 1", n)
		}
	})
	t.Run("another request under the key is refused", func(t *testing.T) {
		_, _, err := b.Rides.Idempotent(t.Context(), key("k1", "other"), create(in))
		wantCode(t, err, ride.CodeIdempotencyKeyReused, "idempotency_key")
		if runs != 0 {
			t.Errorf("ran %d times", runs)
		}
	})
	t.Run("keys are per scope", func(t *testing.T) {
		k := key("k1", "good")
		k.Scope = "token-b"
		if _, replayed, err := b.Rides.Idempotent(t.Context(), k, create(in)); err != nil || replayed || runs != 1 {
			t.Errorf("other scope: %v, replayed %v, ran %d times; want a new ride", err, replayed, runs)
		}
	})
	t.Run("a key in flight is refused, and the first request finishes", func(t *testing.T) {
		var inFlight error
		_, _, err := b.Rides.Idempotent(t.Context(), key("k2", "good"), func(svc *ride.Service) (ride.Replay, error) {
			_, _, inFlight = b.Rides.Idempotent(t.Context(), key("k2", "good"), create(in))
			return create(in)(svc)
		})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, inFlight, ride.CodeIdempotencyKeyInUse, "idempotency_key")
	})
	t.Run("keys expire after a day and are forgotten", func(t *testing.T) {
		b.Clock.Advance(ride.IdempotencyTTL)
		in.PickupAt = b.Clock.Now() // a day on, the first pickup is past
		if _, replayed, err := b.Rides.Idempotent(t.Context(), key("k1", "other"), create(in)); err != nil || replayed {
			t.Errorf("an expired key: %v, replayed %v; want it used afresh", err, replayed)
		}
		b.Clock.Advance(time.Second)
		if n, err := b.Rides.ForgetIdempotencyKeys(t.Context()); err != nil || n != 2 {
			t.Errorf("forgot %d keys (%v), want the 2 older than a day", n, err)
		}
		if n := dbtest.Rows(t, b.DB, "api_idempotency"); n != 1 {
			t.Errorf("%d keys left, want the renewed one", n)
		}
	})
}
