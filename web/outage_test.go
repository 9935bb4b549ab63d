package web

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"birdcar/jobs"
	"birdcar/sql/ride"
)

// TestOutage_CallsGoThrough stops PostgreSQL under a live BirdCar (a
// cluster of the test's own): calls between a live ride's parties are
// still put through, an SMS webhook answers 503 at once and /readyz says
// the database is down; once PostgreSQL is back, MessageBird's retry of
// the SMS is forwarded and every call answered during the outage is in
// the ride's timeline, with its callID.
func TestOutage_CallsGoThrough(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := ownCluster(t)
	pool := c.pool
	fake, sender := fakeMessageBird(t)
	rides := &ride.Service{DefaultCountry: "NL", GracePeriod: time.Hour}
	base := serveOn(t, pool, jobs.Config{Sender: sender}, rides, &Server{})

	cust, err := rides.CreatePerson(ctx, ride.RoleCustomer, ride.PersonInput{Name: "Caitlin", Phone: "+31611111111"})
	if err != nil {
		t.Fatal(err)
	}
	drv, err := rides.CreatePerson(ctx, ride.RoleDriver, ride.PersonInput{Name: "Dave", Phone: "+31622222222"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rides.AddNumber(ctx, ride.NumberInput{Number: "+3197000000001", Country: "NL"}); err != nil {
		t.Fatal(err)
	}
	r, err := rides.CreateRide(ctx, ride.NewRide{CustomerID: cust.ID, DriverID: drv.ID, Start: "A", Destination: "B", PickupAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the route table is live and has the ride", func() bool {
		return rides.Routes.Live() && rides.Routes.Len() == 2 // one route each way
	})

	c.stop(t)
	t.Log("PostgreSQL stopped")
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, `"database":"unreachable`) {
		t.Errorf("/readyz during the outage: %d %s", code, body)
	}
	callIDs := map[string]bool{}
	for i := range 10 {
		caller, other := cust.Phone, drv.Phone
		if i%2 == 1 {
			caller, other = other, caller
		}
		id := fmt.Sprintf("outage-call-%d", i)
		callIDs[id] = true
		q := url.Values{"source": {caller[1:]}, "destination": {r.ProxyNumber[1:]}, "callID": {id}}
		code, body := get(t, base+"/webhook-voice?"+q.Encode())
		if code != http.StatusOK || !strings.Contains(body, `destination="`+other[1:]+`"`) {
			t.Errorf("call %d during the outage: %d %s, want a transfer to %s", i, code, body, other)
		}
	}
	sms := url.Values{"id": {"mb-outage"}, "originator": {cust.Phone[1:]}, "recipient": {r.ProxyNumber[1:]}, "payload": {"Where are you?"}}
	start := time.Now()
	resp, err := http.PostForm(base+"/webhook", sms)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != http.StatusServiceUnavailable || took > time.Second {
		t.Errorf("SMS during the outage: %d after %v, want 503 within a second", resp.StatusCode, took)
	}

	c.start(t)
	t.Log("PostgreSQL started again")
	// MessageBird retries until it gets a 200.
	waitUntil(t, "the SMS webhook to take the retried text", func() bool {
		resp, err := http.PostForm(base+"/webhook", sms)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	waitUntil(t, "the text to be forwarded to the driver", func() bool {
		for _, m := range fake.Accepted() {
			if m.Body == "Where are you?" {
				return true
			}
		}
		return false
	})
	waitUntil(t, "the outage's calls to be in the timeline", func() bool {
		events, err := rides.Timeline(ctx, r)
		if err != nil {
			return false
		}
		seen := 0
		for _, e := range events {
			if e.Call != nil && callIDs[e.Call.CallID] && e.Call.Outcome == ride.CallTransferred {
				seen++
			}
		}
		return seen == len(callIDs)
	})
	if code, body := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after the outage: %d %s", code, body)
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitUntil polls cond until it holds, failing the test after 60 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
