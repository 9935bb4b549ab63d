package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"birdcar/components"
	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

func (b *testBundle) mustRide(t *testing.T, c, d ride.Person) ride.Ride {
	t.Helper()
	r, err := b.CreateRide(t, c, d)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// apiKeyed calls the API with an Idempotency-Key and the given token.
func (b *testBundle) apiKeyed(t *testing.T, token, method, path, key, body string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	r := b.do(t, req)
	out, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r, string(out)
}

// TestAPI_PhonesAsTyped: the table, and the console and the API
// give the same answer for the same input (DEFAULT_COUNTRY NL).
func TestAPI_PhonesAsTyped(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, tc := range []struct{ typed, want, refusal string }{
		{"+49 (0)151 2345 6789", "+4915123456789", ""},
		{"612345678", "+31612345678", ""},
		{"+3161234567", "", "not a valid phone number"},
		{"+316123456789", "", "not a valid phone number"},
		{"4917612345678", "+4917612345678", ""}, // in NL only the German reading is valid
		{"431234567", "", "could be +431234567 or +31431234567"},
		{"+44 (0)20 7946 0018", "+442079460018", ""},
	} {
		t.Run(tc.typed, func(t *testing.T) {
			var viaAPI personJSON
			var problem problemBody
			out := any(&viaAPI)
			if tc.refusal != "" {
				out = &problem
			}
			r := b.api(t, "POST", "/api/v1/drivers", map[string]string{"name": "Typed", "phone": tc.typed}, out)
			cr, doc := b.console(t, "POST", components.PeoplePath(ride.RoleCustomer), url.Values{"name": {"Typed"}, "phone": {tc.typed}}, true)
			if tc.refusal != "" {
				consoleErr := strings.TrimSpace(doc.Find(sel("customer-phone-error")).Text())
				if r.StatusCode != 422 || problem.Code != "invalid_phone" || !strings.Contains(problem.Detail, tc.refusal) {
					t.Errorf("API: %d %+v; want 422 invalid_phone saying %q", r.StatusCode, problem, tc.refusal)
				}
				if cr.StatusCode != 422 || consoleErr != problem.Detail {
					t.Errorf("console: %d %q; want 422 and the API's words %q", cr.StatusCode, consoleErr, problem.Detail)
				}
				return
			}
			if r.StatusCode != 201 || viaAPI.Phone != tc.want {
				t.Errorf("API stored %q (%d), want %q", viaAPI.Phone, r.StatusCode, tc.want)
			}
			var found struct {
				Customers []personJSON `json:"customers"`
			}
			b.api(t, "GET", "/api/v1/customers?phone="+url.QueryEscape(tc.typed), nil, &found)
			if cr.StatusCode != 200 || len(found.Customers) != 1 || found.Customers[0].Phone != tc.want {
				t.Errorf("console: %d, then found %+v by the typed phone; want one customer with %q", cr.StatusCode, found.Customers, tc.want)
			}
		})
	}
}

func TestAPI_RidesPageNewestFirst(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, d, _ := b.People(t, 6)
	var made []int64
	for range 5 {
		r := b.mustRide(t, c, d)
		made = append([]int64{r.ID}, made...) // newest first
		b.Clock.Advance(1)
	}
	var seen []int64
	cursor := ""
	for page := 0; ; page++ {
		var got struct {
			Rides      []rideJSON `json:"rides"`
			NextCursor *string    `json:"next_cursor"`
		}
		if r := b.api(t, "GET", "/api/v1/rides?limit=2&cursor="+url.QueryEscape(cursor), nil, &got); r.StatusCode != 200 {
			t.Fatalf("page %d: %d", page, r.StatusCode)
		}
		for _, r := range got.Rides {
			seen = append(seen, r.ID)
		}
		if page == 0 {
			// A ride created between pages is newer: it never shifts them.
			b.mustRide(t, c, d)
		}
		if got.NextCursor == nil {
			if len(got.Rides) != 1 {
				t.Errorf("last page holds %d rides, want 1", len(got.Rides))
			}
			break
		}
		if page > 3 {
			t.Fatal("more than three pages")
		}
		cursor = *got.NextCursor
	}
	if mustJSON(t, seen) != mustJSON(t, made) {
		t.Errorf("pages gave %v, want %v: each once, newest first", seen, made)
	}
	for _, bad := range []string{"limit=0", "limit=101", "limit=two", "cursor=not-a-cursor", "status=gone", "customer_id=-1", "phone=123"} {
		var p problemBody
		if r := b.api(t, "GET", "/api/v1/rides?"+bad, nil, &p); r.StatusCode/100 != 4 || p.Detail == "" || p.Field == "" {
			t.Errorf("?%s: %d %+v, want a 4xx naming the parameter", bad, r.StatusCode, p)
		}
	}
}

func TestAPI_RidesFilter(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, d, _ := b.People(t, 3) // Caitlin +31611111111, Dave +31622222222
	other := b.Person(t, ride.RoleCustomer, "Olga", "+31633333333")
	mine, theirs := b.mustRide(t, c, d), b.mustRide(t, other, d)
	if _, err := b.Rides.EndRide(t.Context(), theirs.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	for query, want := range map[string][]int64{
		"phone=" + url.QueryEscape("06 1111 1111"):       {mine.ID}, // the customer's, typed nationally
		"phone=" + url.QueryEscape("+31 (0)6 2222 2222"): {theirs.ID, mine.ID},
		"phone=" + url.QueryEscape("+31 6 9999 9999"):    nil,
		"status=active":                 {mine.ID},
		"status=ended":                  {theirs.ID},
		"customer_id=" + itoa(other.ID): {theirs.ID},
		"driver_id=" + itoa(d.ID) + "&customer_id=" + itoa(c.ID): {mine.ID},
	} {
		var got struct {
			Rides []rideJSON `json:"rides"`
		}
		b.api(t, "GET", "/api/v1/rides?"+query, nil, &got)
		var ids []int64
		for _, r := range got.Rides {
			ids = append(ids, r.ID)
		}
		if mustJSON(t, ids) != mustJSON(t, want) {
			t.Errorf("?%s: rides %v, want %v", query, ids, want)
		}
	}
}

func TestAPI_People(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var ada personJSON
	b.api(t, "POST", "/api/v1/customers", map[string]string{"name": "Ada", "phone": "06 1234 5678"}, &ada)
	var renamed personJSON
	if r := b.api(t, "PATCH", "/api/v1/customers/"+itoa(ada.ID), map[string]string{"name": "Ada Okafor"}, &renamed); r.StatusCode != 200 ||
		renamed != (personJSON{ID: ada.ID, Name: "Ada Okafor", Phone: "+31612345678"}) {
		t.Errorf("rename: %d %+v; want the new name and the old phone", r.StatusCode, renamed)
	}
	var got personJSON
	if b.api(t, "GET", "/api/v1/customers/"+itoa(ada.ID), nil, &got); got != renamed {
		t.Errorf("read back %+v, want %+v", got, renamed)
	}
	var moved personJSON
	if b.api(t, "PATCH", "/api/v1/customers/"+itoa(ada.ID), map[string]string{"phone": "+31 6 8765 4321"}, &moved); moved.Phone != "+31687654321" || moved.Name != "Ada Okafor" {
		t.Errorf("new phone: %+v", moved)
	}
	var p problemBody
	if r := b.api(t, "PATCH", "/api/v1/customers/"+itoa(ada.ID), map[string]string{"phone": "+3161234567"}, &p); r.StatusCode != 422 || p.Code != "invalid_phone" {
		t.Errorf("invalid phone: %d %+v", r.StatusCode, p)
	}
	if r := b.api(t, "GET", "/api/v1/drivers/"+itoa(ada.ID), nil, &p); r.StatusCode != 404 || p.Code != "person_not_found" {
		t.Errorf("a customer's id as a driver: %d %+v", r.StatusCode, p)
	}
	var list struct {
		Customers  []personJSON `json:"customers"`
		NextCursor *string      `json:"next_cursor"`
	}
	b.api(t, "GET", "/api/v1/customers?phone="+url.QueryEscape("06-87654321"), nil, &list)
	if len(list.Customers) != 1 || list.Customers[0].ID != ada.ID || list.NextCursor != nil {
		t.Errorf("by phone: %+v", list)
	}
}

func TestAPI_NumbersAndSends(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, d, nums := b.People(t, 2)
	var off numberJSON
	if r := b.api(t, "PATCH", "/api/v1/numbers/"+itoa(nums[0].ID), map[string]bool{"enabled": false}, &off); r.StatusCode != 200 || off.Enabled {
		t.Fatalf("disable: %d %+v", r.StatusCode, off)
	}
	for range 3 {
		r, err := b.CreateRide(t, c, d)
		if err == nil && r.ProxyNumber == nums[0].Number {
			t.Errorf("ride %d got the disabled number", r.ID)
		}
	}
	var p problemBody
	if r := b.api(t, "PATCH", "/api/v1/numbers/"+itoa(nums[0].ID), map[string]string{}, &p); r.StatusCode != 422 || p.Field != "enabled" {
		t.Errorf("patch without enabled: %d %+v", r.StatusCode, p)
	}
	var page struct {
		Numbers    []numberJSON `json:"numbers"`
		NextCursor *string      `json:"next_cursor"`
	}
	b.api(t, "GET", "/api/v1/numbers?limit=1", nil, &page)
	if len(page.Numbers) != 1 || page.Numbers[0].ID != nums[1].ID || page.NextCursor == nil {
		t.Errorf("first page of numbers: %+v, want the newest and a cursor", page)
	}

	// A ride's notification that is still queued: cancel it, then retry it.
	msgs := b.listSendJobs(t)
	if len(msgs) == 0 {
		t.Fatal("no send job")
	}
	var args ride.SendArgs
	if err := json.Unmarshal(msgs[0].EncodedArgs, &args); err != nil {
		t.Fatal(err)
	}
	id := itoa(args.MessageID)
	var m messageJSON
	if r := b.api(t, "POST", "/api/v1/messages/"+id+"/cancel", nil, &m); r.StatusCode != 200 || m.Status != "failed" || m.LastError == nil {
		t.Errorf("cancel: %d %+v", r.StatusCode, m)
	}
	if r := b.api(t, "POST", "/api/v1/messages/"+id+"/retry", nil, &m); r.StatusCode != 200 || m.Status != "queued" {
		t.Errorf("retry: %d %+v", r.StatusCode, m)
	}
	if r := b.api(t, "POST", "/api/v1/messages/999999/retry", nil, &p); r.StatusCode != 404 || p.Code != "message_not_found" {
		t.Errorf("retry unknown: %d %+v", r.StatusCode, p)
	}
}

func TestAPI_ExtendRide(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, d, _ := b.People(t, 1)
	r := b.mustRide(t, c, d)
	var p problemBody
	if resp := b.api(t, "POST", "/api/v1/rides/"+itoa(r.ID)+"/extend", map[string]int{"hours": 2}, &p); resp.StatusCode != 409 {
		t.Errorf("extend an active ride: %d %+v, want 409", resp.StatusCode, p)
	}
	var ended, extended rideJSON
	b.api(t, "POST", "/api/v1/rides/"+itoa(r.ID)+"/end", nil, &ended)
	if resp := b.api(t, "POST", "/api/v1/rides/"+itoa(r.ID)+"/extend", map[string]int{"hours": 48}, &extended); resp.StatusCode != 200 ||
		extended.ExpiresAt == nil || !extended.ExpiresAt.After(*ended.ExpiresAt) {
		t.Errorf("extend: %d %+v after %+v", resp.StatusCode, extended.ExpiresAt, ended.ExpiresAt)
	}
}

// TestAPI_Idempotency: Stripe's semantics for rides and for people.
func TestAPI_Idempotency(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	const otherToken = "other-token-0123456789"
	b.srv.APITokens = append(b.srv.APITokens, otherToken)
	c, d, _ := b.People(t, 4)
	rideBody := mustJSON(t, map[string]any{"customer_id": c.ID, "driver_id": d.ID, "start": "A", "destination": "B", "pickup_at": "2026-05-01T14:30:00Z"})
	for _, tc := range []struct{ name, path, body, other, table string }{
		{"rides", "/api/v1/rides", rideBody, strings.Replace(rideBody, `"B"`, `"C"`, 1), "rides"},
		{"people", "/api/v1/customers", `{"name":"Kim","phone":"+31655555555"}`, `{"name":"Kim","phone":"+31655555556"}`, "customers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := dbtest.Rows(t, b.Rides.DB, tc.table)
			first, firstBody := b.apiKeyed(t, testToken, "POST", tc.path, "key-"+tc.name, tc.body)
			again, againBody := b.apiKeyed(t, testToken, "POST", tc.path, "key-"+tc.name, tc.body)
			if first.StatusCode != 201 || again.StatusCode != 201 || againBody != firstBody || again.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("replay: %d %s then %d %s (replayed %q); want the first answer again", first.StatusCode, firstBody, again.StatusCode, againBody, again.Header.Get("Idempotent-Replayed"))
			}
			reused, reusedBody := b.apiKeyed(t, testToken, "POST", tc.path, "key-"+tc.name, tc.other)
			if reused.StatusCode != 422 || !strings.Contains(reusedBody, `"code":"idempotency_key_reused"`) {
				t.Errorf("another body under the key: %d %s; want 422 idempotency_key_reused", reused.StatusCode, reusedBody)
			}
			if n := dbtest.Rows(t, b.Rides.DB, tc.table); n != before+1 {
				t.Errorf("%d new %s, want 1", n-before, tc.table)
			}
			if r, _ := b.apiKeyed(t, otherToken, "POST", tc.path, "key-"+tc.name, tc.other); r.StatusCode != 201 {
				t.Errorf("the key under another token: %d, want a request of its own", r.StatusCode)
			}
		})
	}
	if r, body := b.apiKeyed(t, testToken, "PATCH", "/api/v1/customers/"+itoa(c.ID), "patch-1", `{"name":"C2"}`); r.StatusCode != 200 || !strings.Contains(body, `"C2"`) {
		t.Errorf("PATCH with a key: %d %s", r.StatusCode, body)
	}
	if r, body := b.apiKeyed(t, testToken, "PATCH", "/api/v1/customers/"+itoa(c.ID), "patch-1", `{"name":"C3"}`); r.StatusCode != 422 {
		t.Errorf("PATCH reusing the key: %d %s", r.StatusCode, body)
	}
}

func TestAPI_Erase(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, d, _ := b.People(t, 1)
	r := b.mustRide(t, c, d)
	var p problemBody
	if resp := b.api(t, "DELETE", "/api/v1/customers/"+itoa(c.ID), nil, &p); resp.StatusCode != 409 || p.Code != "person_in_session" {
		t.Errorf("erase in a live ride: %d %+v, want 409 person_in_session", resp.StatusCode, p)
	}
	b.api(t, "POST", "/api/v1/rides/"+itoa(r.ID)+"/end", nil, nil)
	b.Clock.Advance(b.Rides.GracePeriod)
	if resp := b.api(t, "DELETE", "/api/v1/customers/"+itoa(c.ID), nil, nil); resp.StatusCode != 204 {
		t.Fatalf("erase: %d, want 204", resp.StatusCode)
	}
	var got personJSON
	if b.api(t, "GET", "/api/v1/customers/"+itoa(c.ID), nil, &got); !got.Erased || got.Phone != "" || got.Name == c.Name {
		t.Errorf("erased customer reads %+v", got)
	}
	var ridden rideJSON
	if b.api(t, "GET", "/api/v1/rides/"+itoa(r.ID), nil, &ridden); ridden.CustomerName == c.Name {
		t.Errorf("the ride still names %q", ridden.CustomerName)
	}
	// The console erases with a button, and says why not while a ride connects.
	r2 := b.mustRide(t, b.Person(t, ride.RoleCustomer, "Nina", "+31655555555"), d)
	resp, doc := b.console(t, "POST", components.PeoplePath(ride.RoleDriver)+"/"+itoa(d.ID)+"/erase", url.Values{}, true)
	if resp.StatusCode != 409 || !strings.Contains(doc.Find(sel("person-error")).Text(), "still connects") {
		t.Errorf("console erase in a live ride: %d %q", resp.StatusCode, doc.Find(sel("person-error")).Text())
	}
	b.Rides.EndRide(t.Context(), r2.ID, ride.RideCancelled)
	b.Clock.Advance(b.Rides.GracePeriod)
	resp, doc = b.console(t, "POST", components.PeoplePath(ride.RoleDriver)+"/"+itoa(d.ID)+"/erase", url.Values{}, true)
	if resp.StatusCode != 200 || doc.Find(sel("driver-phone")).Text() != "erased" || strings.Contains(doc.Text(), d.Phone) {
		t.Errorf("console erase: %d %q", resp.StatusCode, doc.Text())
	}
}

// TestConsole_FailedEvents: an event the platform did not take shows on
// the sends page with its error, and Retry offers it again.
func TestConsole_FailedEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.Rides.Events = true
	c, d, _ := b.People(t, 1)
	b.mustRide(t, c, d)
	if _, err := b.DB.Exec(t.Context(), `UPDATE river_job SET state = 'discarded', finalized_at = now(), attempt = 25,
		errors = ARRAY['{"at":"2026-05-01T12:00:00Z","attempt":25,"error":"deliver ride.created: the platform answered 503"}'::jsonb]
		WHERE kind = 'event' AND args->>'type' = 'ride.created'`); err != nil {
		t.Fatal(err)
	}
	resp, doc := b.console(t, "GET", "/sends", nil, false)
	row := doc.Find(sel("event-row"))
	if resp.StatusCode != 200 || row.Length() != 1 || !strings.Contains(row.Text(), "ride.created") || !strings.Contains(row.Text(), "answered 503") {
		t.Fatalf("sends page: %d, event rows %q", resp.StatusCode, row.Text())
	}
	id, _ := row.Find("form").Attr("hx-post")
	resp, doc = b.console(t, "POST", id, url.Values{}, true)
	if resp.StatusCode != 200 || doc.Find(sel("event-row")).Length() != 0 || doc.Find(sel("events-message")).Length() != 1 {
		t.Errorf("retry: %d %q", resp.StatusCode, doc.Text())
	}
	var state string
	b.DB.QueryRow(t.Context(), `SELECT state FROM river_job WHERE kind = 'event' AND args->>'type' = 'ride.created'`).Scan(&state)
	if state != "available" {
		t.Errorf("event job is %s after a retry, want available", state)
	}
	if resp, _ := b.console(t, "POST", "/events/999999/retry", url.Values{}, true); resp.StatusCode != 404 {
		t.Errorf("retry an unknown event: %d", resp.StatusCode)
	}
}
