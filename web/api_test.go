package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

type problemBody struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Field  string `json:"field"`
}

// listSendJobs lists the River send jobs in the given states (all states
// when none is given), as River's own API reads them.
func (b *testBundle) listSendJobs(t testing.TB, states ...rivertype.JobState) []*rivertype.JobRow {
	t.Helper()
	// JobListTx wants a transaction: a savepoint on the test's, undone after.
	tx, err := b.Rides.DB.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(t.Context())
	params := river.NewJobListParams().Kinds(ride.SendArgs{}.Kind()).First(1000)
	if len(states) > 0 {
		params = params.States(states...)
	}
	res, err := b.Rides.Jobs.JobListTx(t.Context(), tx, params)
	if err != nil {
		t.Fatal(err)
	}
	return res.Jobs
}

func TestAPI_RideLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)

	var cust, drv personJSON
	if r := b.api(t, "POST", "/api/v1/customers", map[string]string{"name": "Caitlin", "phone": "06 1111 1111"}, &cust); r.StatusCode != 201 {
		t.Fatalf("create customer: %d", r.StatusCode)
	}
	if cust.Phone != "+31611111111" {
		t.Errorf("customer phone = %q, want E.164 +31611111111", cust.Phone)
	}
	if r := b.api(t, "POST", "/api/v1/drivers", map[string]string{"name": "Dave", "phone": "+31 6 2222 2222"}, &drv); r.StatusCode != 201 {
		t.Fatalf("create driver: %d", r.StatusCode)
	}
	var num numberJSON
	if r := b.api(t, "POST", "/api/v1/numbers", map[string]string{"number": "3197000000001"}, &num); r.StatusCode != 201 {
		t.Fatalf("create number: %d", r.StatusCode)
	}
	if num.Country != "NL" || !num.Enabled {
		t.Errorf("number = %+v, want country NL (derived) and enabled", num)
	}
	var gb numberJSON // a national form is read in the country given with it
	if r := b.api(t, "POST", "/api/v1/numbers", map[string]string{"number": "020 7946 0000", "country": "GB"}, &gb); r.StatusCode != 201 || gb.Number != "+442079460000" || gb.Country != "GB" {
		t.Errorf("create GB number in its national form: %d, %+v; want +442079460000 in GB", r.StatusCode, gb)
	}

	var created rideJSON
	r := b.api(t, "POST", "/api/v1/rides", map[string]any{
		"customer_id": cust.ID, "driver_id": drv.ID, "start": "Dam 1, Amsterdam",
		"destination": "Schiphol", "pickup_at": "2026-05-01T14:30:00+02:00",
	}, &created)
	if r.StatusCode != 201 {
		t.Fatalf("create ride: %d", r.StatusCode)
	}
	if created.Status != "active" || created.ProxyNumber != "+3197000000001" || created.CustomerID != cust.ID || created.DriverID != drv.ID {
		t.Errorf("ride = %+v", created)
	}

	var msgs struct{ Messages []messageJSON }
	b.api(t, "GET", "/api/v1/rides/"+itoa(created.ID)+"/messages", nil, &msgs)
	if len(msgs.Messages) != 2 {
		t.Fatalf("messages = %d, want the two notifications", len(msgs.Messages))
	}
	toCustomer, toDriver := msgs.Messages[0], msgs.Messages[1]
	if toCustomer.To != cust.Phone || toCustomer.From != created.ProxyNumber || toCustomer.Status != "queued" ||
		toCustomer.Body != "Dave will pick you up at 12:30 on Fri 1 May. Reply to this message or call this number to contact the driver." {
		t.Errorf("customer notification = %+v", toCustomer)
	}
	if toDriver.To != drv.Phone || toDriver.From != created.ProxyNumber || !strings.Contains(toDriver.Body, "Caitlin") {
		t.Errorf("driver notification = %+v", toDriver)
	}
	if jobs := len(b.listSendJobs(t)); jobs != 2 {
		t.Errorf("send jobs enqueued = %d; want 2", jobs)
	}

	var got rideJSON
	if r := b.api(t, "GET", "/api/v1/rides/"+itoa(created.ID), nil, &got); r.StatusCode != 200 || got.ID != created.ID {
		t.Errorf("get ride: %d %+v", r.StatusCode, got)
	}
	var ended rideJSON
	b.api(t, "POST", "/api/v1/rides/"+itoa(created.ID)+"/end", nil, &ended)
	if ended.Status != "completed" || ended.EndedAt == nil || ended.ExpiresAt == nil || !ended.ExpiresAt.Equal(ended.EndedAt.Add(24*time.Hour)) {
		t.Errorf("ended ride = %+v, want completed with a 24h grace period", ended)
	}
	// Ending twice is harmless and keeps the first end.
	var again rideJSON
	b.api(t, "POST", "/api/v1/rides/"+itoa(created.ID)+"/end", map[string]string{"status": "cancelled"}, &again)
	if again.Status != "completed" {
		t.Errorf("second end changed status to %q", again.Status)
	}
}

func TestAPI_Errors(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, d, _ := b.People(t, 0)
	rideBody := func(mut func(m map[string]any)) map[string]any {
		m := map[string]any{"customer_id": c.ID, "driver_id": d.ID, "start": "A", "destination": "B", "pickup_at": "2026-05-01T14:30:00Z"}
		mut(m)
		return m
	}
	cases := []struct {
		name, path string
		body       any
		status     int
		code       string
		field      string
	}{
		{"invalid phone", "/api/v1/customers", map[string]string{"name": "X", "phone": "06-CALL-ME"}, 422, "invalid_phone", "phone"},
		{"short phone", "/api/v1/drivers", map[string]string{"name": "X", "phone": "12"}, 422, "invalid_phone", "phone"},
		{"missing name", "/api/v1/customers", map[string]string{"phone": "+31633333333"}, 422, "invalid_name", "name"},
		{"duplicate phone", "/api/v1/customers", map[string]string{"name": "Again", "phone": "+31611111111"}, 409, "duplicate_phone", "phone"},
		{"bad number", "/api/v1/numbers", map[string]string{"number": "abc"}, 422, "invalid_phone", "number"},
		{"bad country", "/api/v1/numbers", map[string]string{"number": "+3197000000099", "country": "Netherlands"}, 422, "invalid_country", "country"},
		{"number of another country", "/api/v1/numbers", map[string]string{"number": "+3197000000099", "country": "GB"}, 422, "invalid_country", "country"},
		{"no start", "/api/v1/rides", rideBody(func(m map[string]any) { m["start"] = "  " }), 422, "invalid_start", "start"},
		{"long destination", "/api/v1/rides", rideBody(func(m map[string]any) { m["destination"] = strings.Repeat("é", 201) }), 422, "invalid_destination", "destination"},
		{"bad pickup", "/api/v1/rides", rideBody(func(m map[string]any) { m["pickup_at"] = "tomorrow" }), 422, "invalid_pickup_at", "pickup_at"},
		{"past pickup", "/api/v1/rides", rideBody(func(m map[string]any) { m["pickup_at"] = "2020-05-01T14:30:00Z" }), 422, "invalid_pickup_at", "pickup_at"},
		{"unknown customer", "/api/v1/rides", rideBody(func(m map[string]any) { m["customer_id"] = 999999 }), 422, "invalid_customer_id", "customer_id"},
		{"unknown driver", "/api/v1/rides", rideBody(func(m map[string]any) { m["driver_id"] = 999999 }), 422, "invalid_driver_id", "driver_id"},
		{"wrong type", "/api/v1/rides", rideBody(func(m map[string]any) { m["customer_id"] = "one" }), 422, "invalid_customer_id", "customer_id"},
		{"empty pool", "/api/v1/rides", rideBody(func(map[string]any) {}), 409, "pool_exhausted", ""},
	}
	for _, tc := range cases {
		var p problemBody
		r := b.api(t, "POST", tc.path, tc.body, &p)
		if r.StatusCode != tc.status || p.Code != tc.code || p.Field != tc.field || p.Detail == "" {
			t.Errorf("%s: %d %+v, want %d %s field %q", tc.name, r.StatusCode, p, tc.status, tc.code, tc.field)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: Content-Type %q", tc.name, ct)
		}
	}
	if n := dbtest.Rows(t, b.Rides.DB, "rides") + dbtest.Rows(t, b.Rides.DB, "messages"); n != 0 {
		t.Errorf("rides+messages after failures = %d; want nothing inserted", n)
	}

	// Same phone for both parties.
	d2 := b.Person(t, ride.RoleDriver, "Twin", c.Phone)
	var p problemBody
	if r := b.api(t, "POST", "/api/v1/rides", rideBody(func(m map[string]any) { m["driver_id"] = d2.ID }), &p); r.StatusCode != 422 || p.Field != "driver_id" {
		t.Errorf("same phone: %d %+v", r.StatusCode, p)
	}

	// Not JSON.
	req := httptest.NewRequest("POST", "/api/v1/customers", strings.NewReader("{"))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	if r := b.do(t, req); r.StatusCode != http.StatusBadRequest {
		t.Errorf("broken JSON: %d, want 400", r.StatusCode)
	}
}

func TestAPI_Auth(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, auth := range []string{"", "Bearer wrong-token-0123456789", testToken, "Basic " + testToken} {
		req := httptest.NewRequest("GET", "/api/v1/numbers", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		var p problemBody
		r := b.do(t, req)
		if r.StatusCode != 401 {
			t.Errorf("Authorization %q: %d, want 401", auth, r.StatusCode)
		}
		_ = decodeBody(r, &p)
		if p.Code != "unauthorized" {
			t.Errorf("Authorization %q: code %q", auth, p.Code)
		}
	}
	b.srv.APITokens = nil
	var p problemBody
	if r := b.api(t, "GET", "/api/v1/numbers", nil, &p); r.StatusCode != 404 || p.Code != "api_disabled" {
		t.Errorf("API without tokens: %d %+v, want 404 api_disabled", r.StatusCode, p)
	}
}

func TestAPI_IdempotencyKeyReplaysFirstAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, d, _ := b.People(t, 3)
	body := map[string]any{"customer_id": c.ID, "driver_id": d.ID, "start": "A", "destination": "B", "pickup_at": "2026-05-01T14:30:00Z"}
	post := func() rideJSON {
		req := httptest.NewRequest("POST", "/api/v1/rides", strings.NewReader(mustJSON(t, body)))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "order-42")
		r := b.do(t, req)
		var out rideJSON
		if err := decodeBody(r, &out); err != nil || r.StatusCode != 201 {
			t.Fatalf("POST with key: %d %v", r.StatusCode, err)
		}
		return out
	}
	first, second := post(), post()
	if first.ID != second.ID || first.ProxyNumber != second.ProxyNumber {
		t.Errorf("retry got ride %d (%s), first was %d (%s)", second.ID, second.ProxyNumber, first.ID, first.ProxyNumber)
	}
	if rides := dbtest.Rows(t, b.Rides.DB, "rides"); rides != 1 {
		t.Errorf("rides = %d; want 1", rides)
	}
}
