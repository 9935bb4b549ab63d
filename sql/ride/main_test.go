package ride_test

import (
	"strconv"
	"testing"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
	"birdcar/sql/ride/ridetest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type testBundle struct{ *ridetest.Bundle }

// setup builds a Service on conn (a test transaction by default).
func setup(t testing.TB, conn ride.DB) *testBundle { return &testBundle{ridetest.New(t, conn)} }

func (b *testBundle) mustRide(t testing.TB, c, d ride.Person) ride.Ride {
	t.Helper()
	r, err := b.CreateRide(t, c, d)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// call asks how a call from caller to proxy is answered: the number it is
// put through to, or "".
func (b *testBundle) call(t testing.TB, caller, proxy string) string {
	t.Helper()
	answer, err := b.Rides.RouteCall(t.Context(), ride.InboundCall{CallID: "c", Source: caller[1:], Destination: proxy[1:], Caller: caller, Proxy: proxy})
	if err != nil {
		t.Fatal(err)
	}
	return answer.TransferTo
}

// wantCode fails the test unless err is a domain Error with code (and,
// when field is not "", that field).
func wantCode(t testing.TB, err error, code ride.Code, field string) {
	t.Helper()
	e := ride.AsError(err)
	if e == nil || e.Code != code || (field != "" && e.Field != field) {
		t.Fatalf("error = %v, want code %s field %q", err, code, field)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
