package ride_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

func TestRouteCall(t *testing.T) {
	t.Parallel()
	f := activeRide(t, nil)
	for _, tt := range []struct {
		name string
		in   ride.InboundCall
		want string
	}{
		{"the customer reaches the driver", ride.InboundCall{CallID: "1", Source: "31611111111", Destination: f.proxy[1:], Caller: f.customer.Phone, Proxy: f.proxy}, f.drv.Phone},
		{"the driver reaches the customer", ride.InboundCall{CallID: "2", Source: "31622222222", Destination: f.proxy[1:], Caller: f.drv.Phone, Proxy: f.proxy}, f.customer.Phone},
		{"a stranger reaches nobody", ride.InboundCall{CallID: "3", Source: "31699999999", Destination: f.proxy[1:], Caller: "+31699999999", Proxy: f.proxy}, ""},
		{"a withheld number reaches nobody", ride.InboundCall{CallID: "4", Source: "Restricted", Destination: f.proxy[1:], Proxy: f.proxy}, ""},
		{"another number does not route", ride.InboundCall{CallID: "5", Source: "31611111111", Destination: "447700900999", Caller: f.customer.Phone, Proxy: "+447700900999"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := f.Rides.RouteCall(t.Context(), tt.in); err != nil || got.TransferTo != tt.want {
				t.Errorf("RouteCall = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	o, err := f.Rides.Overview(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]bool{}
	for _, k := range o.UnmatchedCalls {
		refused[k.Source] = k.Outcome == ride.CallRejected && k.RideID == nil
	}
	if n := dbtest.Rows(t, f.DB, "calls"); n != 5 || len(refused) != 3 || !refused["31699999999"] || !refused["Restricted"] || !refused["31611111111"] {
		t.Errorf("%d calls recorded, unmatched %+v; want all 5, the 3 refused among them", n, o.UnmatchedCalls)
	}
}

// TestCallLog_WritesEveryCallByClose records calls from many goroutines
// through the batching writer, which reuses its arrays while calls keep
// coming: Close writes what is queued, each call once, none lost.
func TestCallLog_WritesEveryCallByClose(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	f := activeRide(t, pool)
	f.Rides.CallLog = ride.NewCallLog(f.Rides, nil)
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			for i := range 500 {
				in := ride.InboundCall{CallID: fmt.Sprintf("%d-%d", g, i), Source: f.customer.Phone[1:], Destination: f.proxy[1:],
					Caller: f.customer.Phone, Proxy: f.proxy}
				if _, err := f.Rides.RouteCall(t.Context(), in); err != nil {
					t.Error(err)
				}
			}
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	f.Rides.CallLog.Close()
	var n, distinct int
	if err := pool.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT call_id) FROM calls`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != 2000 || distinct != 2000 {
		t.Errorf("%d calls written, %d of them distinct; want 2000 of 2000", n, distinct)
	}
}

// TestCallLog_BadCallDoesNotStall queues a call the database refuses among
// good ones: the good ones are written all the same.
func TestCallLog_BadCallDoesNotStall(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	f := activeRide(t, pool)
	f.Rides.CallLog = ride.NewCallLog(f.Rides, nil)
	for i := range 10 {
		if i == 3 {
			ride.RecordBadCall(f.Rides.CallLog)
		}
		f.call(t, f.customer.Phone, f.proxy)
	}
	f.Rides.CallLog.Close()
	if n := dbtest.Rows(t, pool, "calls"); n != 10 {
		t.Errorf("%d calls written, want the 10 good ones", n)
	}
}

// memSpool is a CallSpool in memory.
type memSpool struct{ data []byte }

func (m *memSpool) Save(data []byte) error { m.data = data; return nil }
func (m *memSpool) Take() ([]byte, error) {
	data := m.data
	m.data = nil
	return data, nil
}

// TestCallLog_SpooledCallsOfARedactedRide writes a call an earlier process
// spooled, whose ride was redacted since: it is stored without its phones.
func TestCallLog_SpooledCallsOfARedactedRide(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	f := activeRide(t, pool)
	f.Rides.Retention = time.Hour
	if _, err := f.Rides.EndRide(t.Context(), f.ride.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(f.Rides.GracePeriod + 2*time.Hour)
	if n, err := f.Rides.RedactExpired(t.Context()); err != nil || n != 1 {
		t.Fatalf("redacted %d rides, %v", n, err)
	}
	spool := &memSpool{data: fmt.Appendf(nil, `[{"Call": {"RideID": %d, "CallID": "late-1", "Source": %q, "Destination": %q,
		"TransferredTo": %q, "Outcome": "transferred", "CreatedAt": "2026-05-01T12:30:00Z"}}]`,
		f.ride.ID, f.customer.Phone[1:], f.proxy[1:], f.drv.Phone)}
	log := ride.NewCallLog(f.Rides, spool)
	log.Close()
	var source, to string
	if err := pool.QueryRow(t.Context(), `SELECT source, coalesce(transferred_to, '-') FROM calls WHERE call_id = 'late-1'`).Scan(&source, &to); err != nil {
		t.Fatal(err)
	}
	if source != "" || to != "" {
		t.Errorf("spooled call of a redacted ride stored with source %q, transferred to %q; want both blank", source, to)
	}
}

// TestCallLog_BacklogWrittenOnce writes a backlog larger than the arrays
// the log reuses (an outage's, here from the spool) batch by batch: each
// call once, none lost.
func TestCallLog_BacklogWrittenOnce(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	f := activeRide(t, pool)
	const n = 18_000 // more than a batch over the 16,000 reused
	var spooled bytes.Buffer
	spooled.WriteByte('[')
	for i := range n {
		if i > 0 {
			spooled.WriteByte(',')
		}
		fmt.Fprintf(&spooled, `{"Call": {"RideID": %d, "CallID": "backlog-%d", "Source": %q, "Destination": %q,
			"TransferredTo": %q, "Outcome": "transferred", "CreatedAt": "2026-05-01T12:30:00Z"}}`,
			f.ride.ID, i, f.customer.Phone[1:], f.proxy[1:], f.drv.Phone)
	}
	spooled.WriteByte(']')
	log := ride.NewCallLog(f.Rides, &memSpool{data: spooled.Bytes()})
	// Close gives the writer a few seconds before it spools the rest:
	// wait until the backlog is written, however slow the machine.
	for deadline := time.Now().Add(time.Minute); dbtest.Rows(t, pool, "calls") < n && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	log.Close()
	var written, distinct int
	if err := pool.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT call_id) FROM calls`).Scan(&written, &distinct); err != nil {
		t.Fatal(err)
	}
	if written != n || distinct != n {
		t.Errorf("%d calls written, %d of them distinct; want %d of %d", written, distinct, n, n)
	}
}
