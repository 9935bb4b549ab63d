package web

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/riverqueue/river/rivertype"

	"birdcar/sql/ride"
	"birdcar/sql/ride/phone"
)

// consolePost submits a console form through htmx, signed in.
func (b *testBundle) consolePost(t *testing.T, path string, form url.Values) (int, *goquery.Document) {
	t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(hxRequest, "true")
	r := b.do(t, b.signIn(t, req))
	doc, err := goquery.NewDocumentFromReader(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r.StatusCode, doc
}

// failingSender fails every send it is given with err.
type failingSender struct{ err *ride.SendError }

func (s failingSender) Send(context.Context, ride.OutboundSMS) (ride.SendResult, error) {
	return ride.SendResult{}, s.err
}

func TestRidesPage_CreateValidatesInPlace(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	c, d, nums := b.People(t, 1)
	form := func(mut func(url.Values)) url.Values {
		v := url.Values{"customer_id": {itoa(c.ID)}, "driver_id": {itoa(d.ID)}, "start": {"Dam 1"},
			"destination": {"Schiphol"}, "pickup_at": {"2026-05-01T14:30"}}
		mut(v)
		return v
	}
	for _, tc := range []struct {
		name, field string
		mut         func(url.Values)
	}{
		{"no customer", "customer_id", func(v url.Values) { v.Set("customer_id", "") }},
		{"no start", "start", func(v url.Values) { v.Set("start", " ") }},
		{"bad pickup", "pickup_at", func(v url.Values) { v.Set("pickup_at", "soon") }},
		{"past pickup", "pickup_at", func(v url.Values) { v.Set("pickup_at", "2020-05-01T14:30") }},
		{"unknown driver", "driver_id", func(v url.Values) { v.Set("driver_id", "99999") }},
	} {
		status, doc := b.consolePost(t, "/rides", form(tc.mut))
		if status != 422 || doc.Find(sel("error-"+tc.field)).Text() == "" || doc.Find(sel("ride-form")).Length() != 1 {
			t.Errorf("%s: %d, field error %q; want 422 with the form and its error", tc.name, status, doc.Find(sel("error-"+tc.field)).Text())
		}
		if got, _ := doc.Find(sel("ride-start")).Attr("value"); tc.field != "start" && got != "Dam 1" {
			t.Errorf("%s: the typed start was lost: %q", tc.name, got)
		}
	}

	status, doc := b.consolePost(t, "/rides", form(func(url.Values) {}))
	if status != 200 || doc.Find(sel("ride-created-number")).Text() != phone.Format(nums[0].Number) || doc.Find(`[hx-swap-oob]`+sel("ride-row")).Length()+doc.Find(`[hx-swap-oob] `+sel("ride-row")).Length() == 0 {
		t.Errorf("create: %d, number %q; want 200, the number and the new row for the list", status, doc.Find(sel("ride-created-number")).Text())
	}
	status, doc = b.consolePost(t, "/rides", form(func(url.Values) {}))
	if status != 409 || !strings.Contains(doc.Find(sel("ride-form-error")).Text(), "add numbers to the pool") {
		t.Errorf("second ride on a one-number pool: %d %q, want 409 pool exhausted", status, doc.Find(sel("ride-form-error")).Text())
	}
}

func TestRidesPage_FiltersAndSearch(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	ctx := t.Context()
	c, d, _ := b.People(t, 2)
	active, err := b.CreateRide(t, c, d)
	if err != nil {
		t.Fatal(err)
	}
	other := b.Person(t, ride.RoleCustomer, "Zed Zebra", "+31655555555")
	ended, err := b.CreateRide(t, other, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Rides.EndRide(ctx, ended.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	ids := func(path string) []string {
		_, doc := page(t, b, path, true)
		var out []string
		doc.Find(sel("ride-row")).Each(func(_ int, s *goquery.Selection) { v, _ := s.Attr("data-ride-id"); out = append(out, v) })
		return out
	}
	for path, want := range map[string]string{
		"/rides/list?status=active": itoa(active.ID), "/rides/list?status=grace": itoa(ended.ID),
		"/rides/list?q=zebra": itoa(ended.ID), "/rides/list?q=06+5555": itoa(ended.ID),
	} {
		if got := ids(path); len(got) != 1 || got[0] != want {
			t.Errorf("%s: rides %v, want [%s]", path, got, want)
		}
	}
	if got := ids("/rides/list?status=ended"); len(got) != 0 {
		t.Errorf("ended (past grace): %v, want none yet", got)
	}
	b.Clock.Advance(25 * time.Hour)
	if got := ids("/rides/list?status=ended"); len(got) != 1 || got[0] != itoa(ended.ID) {
		t.Errorf("ended after the grace period: %v, want [%d]", got, ended.ID)
	}
}

func TestRideDetail_EndExtendAndTimeline(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	f := b.activeRide(t)
	b.smsForm(t, url.Values{"id": {"mb-t"}, "originator": {digits(f.customer.Phone)}, "recipient": {digits(f.ride.ProxyNumber)}, "payload": {"Where are you?"}})
	b.voice(t, digits(f.driver.Phone), digits(f.ride.ProxyNumber))

	status, doc := page(t, b, "/rides/"+itoa(f.ride.ID), false)
	if status != 200 {
		t.Fatalf("ride page: %d", status)
	}
	if n := doc.Find(sel("timeline-out")).Length(); n != 3 { // two notifications and the forward
		t.Errorf("outbound items: %d, want 3", n)
	}
	if doc.Find(sel("timeline-in")).Length() != 1 || doc.Find(sel("timeline-call")).Length() != 1 {
		t.Error("timeline lacks the customer's SMS or the driver's call")
	}
	status, doc = b.consolePost(t, "/rides/"+itoa(f.ride.ID)+"/end", url.Values{"status": {"completed"}})
	if status != 200 || doc.Find(sel("ride-status")).Text() != "completed, in grace" {
		t.Errorf("end: %d %q", status, doc.Find(sel("ride-status")).Text())
	}
	before, err := b.Rides.Ride(t.Context(), f.ride.ID)
	if err != nil || before.ExpiresAt == nil {
		t.Fatalf("ended ride: %+v, %v", before, err)
	}
	// A refused extension says why on the ride's card, which stays whole.
	status, doc = b.consolePost(t, "/rides/"+itoa(f.ride.ID)+"/extend", url.Values{"hours": {"9999"}})
	if status != 422 || doc.Find(sel("ride-error")).Text() == "" || doc.Find(sel("ride-status")).Length() != 1 || doc.Find(sel("ride-extend")).Length() != 1 {
		t.Errorf("refused extension: %d, error %q, card kept %v", status, doc.Find(sel("ride-error")).Text(), doc.Find(sel("ride-status")).Length() == 1)
	}
	status, _ = b.consolePost(t, "/rides/"+itoa(f.ride.ID)+"/extend", url.Values{"hours": {"24"}})
	after, err := b.Rides.Ride(t.Context(), f.ride.ID)
	if err != nil || status != 200 || after.ExpiresAt == nil || !after.ExpiresAt.Equal(before.ExpiresAt.Add(24*time.Hour)) {
		t.Errorf("extend: %d, expiry %v → %v (%v)", status, before.ExpiresAt, after.ExpiresAt, err)
	}
	// 40 h on (past the first 24 h of grace), the customer's call still
	// reaches the driver through the ride's number.
	b.Clock.Advance(40 * time.Hour)
	answer, err := b.Rides.RouteCall(t.Context(), ride.InboundCall{CallID: "call-40h", Source: digits(f.customer.Phone),
		Destination: digits(f.ride.ProxyNumber), Caller: f.customer.Phone, Proxy: f.ride.ProxyNumber})
	if err != nil || answer.TransferTo != f.driver.Phone {
		t.Errorf("after extending, the number should still route 40 h on: transfer to %q, %v", answer.TransferTo, err)
	}
}

func TestSendsPage_RetryAndCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	ctx := t.Context()
	f := b.activeRide(t)
	msgs := b.rideMessages(t, f.ride, nil) // the notifications, in the order written
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want the two notifications", len(msgs))
	}
	// One send fails for good, the other waits for a retry.
	reason := "MessageBird rejected the message: no (correct) recipients found"
	rejected := failingSender{&ride.SendError{Failure: ride.FailureRejected, Reason: reason}}
	if got, _ := b.Rides.Deliver(ctx, rejected, msgs[0].ID, 1, 5); got != ride.DeliveryFailed {
		t.Fatalf("rejected send: %s, want failed", got)
	}
	retrying := "MessageBird unavailable (server error)"
	unavailable := failingSender{&ride.SendError{Failure: ride.FailureServer, Reason: retrying}}
	if got, _ := b.Rides.Deliver(ctx, unavailable, msgs[1].ID, 1, 5); got != ride.DeliveryRetry {
		t.Fatalf("unavailable send: %s, want retry", got)
	}
	stored := func(id int64) ride.Message {
		t.Helper()
		for _, m := range b.rideMessages(t, f.ride, nil) {
			if m.ID == id {
				return m
			}
		}
		t.Fatalf("message %d is gone", id)
		return ride.Message{}
	}
	_, doc := page(t, b, "/sends", false)
	if n := doc.Find(sel("send-row")).Length(); n != 2 || !strings.Contains(doc.Find(sel("sends")).Text(), reason) {
		t.Fatalf("sends page: %d rows; want both with their errors", n)
	}
	status, doc := b.consolePost(t, "/sends/"+itoa(msgs[0].ID)+"/retry", nil)
	if m := stored(msgs[0].ID); status != 200 || m.Status != "queued" || doc.Find(sel("sends-message")).Text() == "" {
		t.Errorf("retry failed send: %d, status %s", status, m.Status)
	}
	status, _ = b.consolePost(t, "/sends/"+itoa(msgs[1].ID)+"/cancel", nil)
	if m := stored(msgs[1].ID); status != 200 || m.Status != "failed" || m.LastError == nil || !strings.Contains(*m.LastError, "cancelled by an operator") {
		t.Errorf("cancel: %d, status %s", status, m.Status)
	}
	if jobs := len(b.listSendJobs(t, rivertype.JobStateCancelled)); jobs != 1 {
		t.Errorf("cancelled jobs = %d; want the cancelled message's job", jobs)
	}
}

func TestSimulator_SMSAndCallThroughTheWebhooks(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	const key = "simulator-signing-key"
	b.srv.useSigningKey(key) // the simulator signs as MessageBird does
	// Behind a proxy that serves BirdCar under a path: signatures cover
	// it, the app's own routes do not have it.
	b.srv.PublicURL = "https://birdcar.example.com/birdcar"
	f := b.activeRide(t)
	status, doc := b.consolePost(t, "/simulator", url.Values{"ride_id": {itoa(f.ride.ID)}, "as": {"customer"}, "text": {"hello 🚕"}, "action": {"sms"}})
	if status != 200 || !strings.Contains(doc.Find(sel("sim-forward")).Text(), phone.Format(f.driver.Phone)) {
		t.Errorf("simulated SMS: %d, forward %q", status, doc.Find(sel("sim-forward")).Text())
	}
	status, doc = b.consolePost(t, "/simulator", url.Values{"ride_id": {itoa(f.ride.ID)}, "as": {"driver"}, "action": {"call"}})
	if status != 200 || !strings.Contains(doc.Find(sel("sim-transfer")).Text(), phone.Format(f.customer.Phone)) {
		t.Errorf("simulated call: %d, transfer %q", status, doc.Find(sel("sim-transfer")).Text())
	}
	status, doc = b.consolePost(t, "/simulator", url.Values{"ride_id": {itoa(f.ride.ID)}, "as": {"stranger"}, "action": {"call"}})
	if status != 200 || doc.Find(sel("sim-nothing")).Length() != 1 || !strings.Contains(doc.Find(sel("sim-answer")).Text(), "Say") {
		t.Errorf("stranger's call: %d, answer %q", status, doc.Find(sel("sim-answer")).Text())
	}
	status, doc = b.consolePost(t, "/simulator", url.Values{"ride_id": {itoa(f.ride.ID)}, "as": {"customer"}, "action": {"sms"}})
	if status != 422 || doc.Find(sel("sim-error")).Text() == "" {
		t.Errorf("SMS without text: %d, want 422 with a message", status)
	}
}

// TestRideForm_PersonSearchChooses: a search that finds one person
// chooses them, and a search keeps the person already chosen.
func TestRideForm_PersonSearchChooses(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	zelda, err := b.Rides.CreatePerson(t.Context(), ride.RoleCustomer, ride.PersonInput{Name: "Zelda Quist", Phone: "+31612340001"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Rides.CreatePerson(t.Context(), ride.RoleCustomer, ride.PersonInput{Name: "Zoe Quist", Phone: "+31612340002"}); err != nil {
		t.Fatal(err)
	}
	chosen := func(query string) string {
		t.Helper()
		_, doc := page(t, b, "/rides/options?role=customer&"+query, true)
		v, _ := doc.Find("option[selected]").Attr("value")
		return v
	}
	if got := chosen("customer_q=zelda"); got != itoa(zelda.ID) {
		t.Errorf("one match: chosen %q, want Zelda (%d)", got, zelda.ID)
	}
	if got := chosen("customer_q=quist&customer_id=" + itoa(zelda.ID)); got != itoa(zelda.ID) {
		t.Errorf("two matches with Zelda chosen: chosen %q", got)
	}
	if got := chosen("customer_q=quist"); got != "" {
		t.Errorf("two matches, none chosen: chosen %q", got)
	}
}
