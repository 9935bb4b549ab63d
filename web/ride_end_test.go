package web

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"birdcar/sql/admin"
	"birdcar/sql/ride"
)

// wantApology fails unless a call from caller to the ride's number is
// answered with the apology, not put through.
func (b *testBundle) wantApology(t *testing.T, caller ride.Person, r ride.Ride) {
	t.Helper()
	transfer, say := b.voice(t, digits(caller.Phone), digits(r.ProxyNumber))
	if transfer != nil || say == nil || say.Text != notIdentified {
		t.Errorf("call from %s after disconnecting: transfer %+v, say %+v; want the apology", caller.Name, transfer, say)
	}
}

func TestRideEnd_ConfirmsThenDisconnectsNow(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	f := b.activeRide(t)
	id := itoa(f.ride.ID)

	// Cancel asks first, in place: nothing changes until it is confirmed.
	status, doc := page(t, b, "/rides/"+id+"/end?status=cancelled", true)
	confirm := doc.Find(sel("ride-confirm"))
	if status != 200 || confirm.Length() != 1 || confirm.AttrOr("role", "") != "dialog" {
		t.Fatalf("confirmation: %d, %d dialogs", status, confirm.Length())
	}
	if confirm.Find(`input[name="_csrf"]`).Length() != 1 || confirm.Find(`input[name="status"]`).AttrOr("value", "") != "cancelled" ||
		confirm.Find(sel("ride-routing-grace")).Length() != 1 || confirm.Find(sel("ride-routing-now")).Length() != 1 {
		t.Errorf("confirmation lacks the token, the status or the two choices: %s", goquery.NewDocumentFromNode(confirm.Nodes[0]).Text())
	}
	if r, _ := b.Rides.Ride(t.Context(), f.ride.ID); r.Status != ride.RideActive {
		t.Fatalf("asking changed the ride: %s", r.Status)
	}
	if transfer, _ := b.voice(t, digits(f.customer.Phone), digits(f.ride.ProxyNumber)); transfer == nil {
		t.Fatal("the active ride does not route")
	}
	// Without htmx the confirmation is a page of its own.
	if status, doc := page(t, b, "/rides/"+id+"/end?status=completed", false); status != 200 || doc.Find("main "+sel("ride-confirm")).Length() != 1 {
		t.Errorf("confirmation page: %d", status)
	}
	// Back shows the actions again.
	if status, doc := page(t, b, "/rides/"+id+"/summary", true); status != 200 || doc.Find(sel("ride-cancel")).Length() != 1 {
		t.Errorf("back: %d", status)
	}

	status, doc = b.consolePost(t, "/rides/"+id+"/end", url.Values{"status": {"cancelled"}, "routing": {"now"}})
	if status != 200 || !strings.Contains(doc.Find(sel("ride-message")).Text(), "disconnected") {
		t.Errorf("disconnect: %d %q", status, doc.Find(sel("ride-message")).Text())
	}
	if got := doc.Find(sel("ride-status")).Text(); got != "cancelled" {
		t.Errorf("status after disconnecting: %q, want cancelled (no grace)", got)
	}
	b.wantApology(t, f.customer, f.ride)
	b.wantApology(t, f.driver, f.ride)
}

// A confirmation sent without htmx (no JavaScript, or a click before htmx
// bound the form) returns to the ride's page, which says what was done;
// a notice someone else signed says nothing.
func TestRideEnd_WithoutHTMXSaysWhatItDid(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, disp := b.operator(t, "Dana", admin.RoleDispatcher)
	f := b.activeRide(t)
	id := itoa(f.ride.ID)
	resp, _ := disp.do(t, "POST", "/rides/"+id+"/end", url.Values{"status": {"cancelled"}, "routing": {"now"}}, false)
	where := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.HasPrefix(where, "/rides/"+id+"?") {
		t.Fatalf("end without htmx: %d to %q, want 303 to the ride", resp.StatusCode, where)
	}
	if _, doc := disp.do(t, "GET", where, nil, false); !strings.Contains(doc.Find(sel("ride-message")).Text(), "disconnected") {
		t.Errorf("the ride's page after it: %q, want it said the ride was disconnected", doc.Find(sel("ride-message")).Text())
	}
	forged := "/rides/" + id + "?" + url.Values{"notice": {"Call +31 6 0000 0000 now"}, "sig": {"x"}}.Encode()
	if _, doc := disp.do(t, "GET", forged, nil, false); doc.Find(sel("ride-message")).Length() != 0 {
		t.Errorf("a forged notice was shown: %q", doc.Find(sel("ride-message")).Text())
	}
	b.wantApology(t, f.customer, f.ride)
}

func TestRideEnd_DisconnectCutsGraceShort(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	f := b.activeRide(t)
	id := itoa(f.ride.ID)
	if status, _ := b.consolePost(t, "/rides/"+id+"/end", url.Values{"status": {"completed"}, "routing": {"grace"}}); status != 200 {
		t.Fatalf("end: %d", status)
	}
	b.Clock.Advance(time.Hour)
	if transfer, _ := b.voice(t, digits(f.driver.Phone), digits(f.ride.ProxyNumber)); transfer == nil {
		t.Fatal("the ended ride does not route in its grace period")
	}
	_, doc := page(t, b, "/rides/"+id, false)
	if doc.Find(sel("ride-disconnect")).Length() != 1 {
		t.Fatal("a ride in its grace period offers no disconnect")
	}
	status, doc := page(t, b, "/rides/"+id+"/end?status=completed&routing=now", true)
	if status != 200 || doc.Find(sel("ride-confirm")).Length() != 1 || doc.Find(`input[name="routing"]`).AttrOr("value", "") != "now" {
		t.Fatalf("disconnect confirmation: %d", status)
	}
	status, doc = b.consolePost(t, "/rides/"+id+"/end", url.Values{"status": {"completed"}, "routing": {"now"}})
	if status != 200 || doc.Find(sel("ride-disconnect")).Length() != 0 {
		t.Errorf("disconnect in grace: %d, still offered %d", status, doc.Find(sel("ride-disconnect")).Length())
	}
	b.wantApology(t, f.driver, f.ride)
}

func TestAPIRideEnd_Disconnect(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	f := b.activeRide(t)
	var ended rideJSON
	r := b.api(t, "POST", "/api/v1/rides/"+itoa(f.ride.ID)+"/end", map[string]any{"status": "cancelled", "disconnect": true}, &ended)
	if r.StatusCode != 200 || ended.Status != "cancelled" || ended.ExpiresAt == nil || !ended.ExpiresAt.Equal(b.Clock.Now()) {
		t.Fatalf("disconnect: %d %+v; want cancelled, expiring now", r.StatusCode, ended)
	}
	b.wantApology(t, f.customer, f.ride)
	var bad map[string]any
	if r := b.api(t, "POST", "/api/v1/rides/"+itoa(f.ride.ID)+"/end", map[string]any{"disconnect": "yes"}, &bad); r.StatusCode != 422 {
		t.Errorf("disconnect as a string: %d, want 422", r.StatusCode)
	}
}

// wantFieldErrors checks a re-rendered form: each field's input is marked
// invalid and described by its message, and only the first is focused.
func wantFieldErrors(t *testing.T, doc *goquery.Document, inputs ...string) {
	t.Helper()
	for i, in := range inputs {
		el := doc.Find(in)
		if el.Length() != 1 {
			t.Errorf("%s: %d elements", in, el.Length())
			continue
		}
		desc := el.AttrOr("aria-describedby", "")
		if el.AttrOr("aria-invalid", "") != "true" || desc == "" || strings.TrimSpace(doc.Find("#"+desc).Text()) == "" {
			t.Errorf("%s: aria-invalid %q, described by %q (%q)", in, el.AttrOr("aria-invalid", ""), desc, doc.Find("#"+desc).Text())
		}
		if _, focus := el.Attr("autofocus"); focus != (i == 0) {
			t.Errorf("%s: autofocus %v, want it on the first invalid field only", in, focus)
		}
	}
	if n := doc.Find("[autofocus]").Length(); n != 1 {
		t.Errorf("%d elements with autofocus, want 1", n)
	}
}

func TestForms_EveryFieldErrorInOneSubmit(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	t.Run("ride", func(t *testing.T) {
		status, doc := b.consolePost(t, "/rides", url.Values{"customer_id": {""}, "driver_id": {""}, "start": {" "}, "destination": {""}, "pickup_at": {"soon"}})
		if status != 422 {
			t.Errorf("status %d, want 422", status)
		}
		wantFieldErrors(t, doc, "select#ride-customer_id", "select#ride-driver_id", "#ride-start", "#ride-destination", "#ride-pickup_at")
	})
	t.Run("ride, the domain's faults with the form's", func(t *testing.T) {
		status, doc := b.consolePost(t, "/rides", url.Values{"customer_id": {"99999"}, "driver_id": {"99998"}, "start": {"Dam 1"}, "destination": {""}, "pickup_at": {"2026-05-01T14:30"}})
		if status != 422 {
			t.Errorf("status %d, want 422", status)
		}
		wantFieldErrors(t, doc, "select#ride-customer_id", "select#ride-driver_id", "#ride-destination")
	})
	t.Run("person", func(t *testing.T) {
		status, doc := b.consolePost(t, "/people/customers", url.Values{"name": {""}, "phone": {"12"}})
		if status != 422 {
			t.Errorf("status %d, want 422", status)
		}
		wantFieldErrors(t, doc, sel("customer-add-name"), sel("customer-add-phone"))
	})
	t.Run("number", func(t *testing.T) {
		status, doc := b.consolePost(t, "/numbers", url.Values{"number": {"abc"}, "country": {"Holland"}})
		if status != 422 {
			t.Errorf("status %d, want 422", status)
		}
		wantFieldErrors(t, doc, sel("number-add-number"), sel("number-add-country"))
	})
}

// The API names every field at fault too, the first as before.
func TestAPI_EveryFieldErrorInOneProblem(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var p problem
	r := b.api(t, "POST", "/api/v1/customers", map[string]string{"name": "", "phone": "12"}, &p)
	if r.StatusCode != 422 || p.Field != "name" || len(p.Errors) != 2 || p.Errors[0].Field != "name" || p.Errors[1].Field != "phone" || p.Errors[1].Code != "invalid_phone" {
		t.Errorf("problem %d %+v; want name first and both fields listed", r.StatusCode, p)
	}
	var one problem
	r = b.api(t, "POST", "/api/v1/customers", map[string]string{"name": "Ann", "phone": "12"}, &one)
	if r.StatusCode != 422 || one.Errors != nil {
		t.Errorf("one field at fault: %d %+v; want no list", r.StatusCode, one)
	}
}
