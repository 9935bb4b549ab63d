package web

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"birdcar/sql/db"
	"birdcar/sql/dbtest"
)

// rideFixture is an active ride between a customer and a driver.
type rideFixture struct {
	customer db.Customer
	driver   db.Driver
	ride     db.RideGetRow
}

func (b *testBundle) activeRide(t testing.TB) rideFixture {
	t.Helper()
	c, d, _ := b.people(t, t.Context(), 1)
	r, err := b.createRide(t, c, d)
	if err != nil {
		t.Fatal(err)
	}
	return rideFixture{c, d, r}
}

func digits(e164 string) string { return strings.TrimPrefix(e164, "+") }

// smsForm posts an SMS webhook the way MessageBird's Flow Builder does.
func (b *testBundle) smsForm(t *testing.T, v url.Values) *http.Response {
	t.Helper()
	req := httptest.NewRequest("POST", "/webhook", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, req)
}

func (b *testBundle) messages(t *testing.T, where string, args ...any) []db.Message {
	t.Helper()
	rows, err := b.srv.DB.Query(t.Context(), "SELECT id, ride_id, direction, kind, originator, recipient, body, status, received_id, forward_of FROM messages WHERE "+where+" ORDER BY id", args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []db.Message
	for rows.Next() {
		var m db.Message
		if err := rows.Scan(&m.ID, &m.RideID, &m.Direction, &m.Kind, &m.Originator, &m.Recipient, &m.Body, &m.Status, &m.ReceivedID, &m.ForwardOf); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestWebhookSMS_ForwardsToTheOtherParty(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	f := b.activeRide(t)
	text := strings.Repeat("Wó ", 533) + "🚕" // 1,600 characters, multi-byte
	r := b.smsForm(t, url.Values{"id": {"mb-1"}, "originator": {digits(f.customer.Phone)}, "recipient": {digits(f.ride.ProxyNumber)},
		"payload": {text}, "createdDatetime": {"2026-05-01T12:00:00+00:00"}})
	if r.StatusCode != 200 {
		t.Fatalf("webhook: %d", r.StatusCode)
	}
	in := b.messages(t, "direction = 'inbound'")
	if len(in) != 1 || in[0].Status != "received" || in[0].RideID == nil || *in[0].RideID != f.ride.ID ||
		in[0].Originator != f.customer.Phone || *in[0].ReceivedID != "mb-1" || in[0].Body != text {
		t.Fatalf("inbound = %+v", in)
	}
	fwd := b.messages(t, "kind = 'forward'")
	if len(fwd) != 1 || fwd[0].Recipient != f.driver.Phone || fwd[0].Originator != f.ride.ProxyNumber ||
		fwd[0].Body != text || fwd[0].Status != "queued" || *fwd[0].ForwardOf != in[0].ID {
		t.Fatalf("forward = %+v", fwd)
	}

	// The driver answers, in JSON with the alias names and numbers as numbers.
	body := fmt.Sprintf(`{"message_id":"mb-2","sender":%s,"receiver":%s,"body":"On my way"}`, digits(f.driver.Phone), digits(f.ride.ProxyNumber))
	req := httptest.NewRequest("POST", "/webhook", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if r := b.do(t, req); r.StatusCode != 200 {
		t.Fatalf("JSON webhook: %d", r.StatusCode)
	}
	back := b.messages(t, "kind = 'forward' AND recipient = $1", f.customer.Phone)
	if len(back) != 1 || back[0].Body != "On my way" || back[0].Originator != f.ride.ProxyNumber {
		t.Errorf("forward to customer = %+v", back)
	}
}

func TestWebhookSMS_UnmatchedIsRecordedNotSent(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	f := b.activeRide(t)
	r := b.smsForm(t, url.Values{"id": {"mb-x"}, "originator": {"31655555555"}, "recipient": {digits(f.ride.ProxyNumber)}, "payload": {"who is this?"}})
	if r.StatusCode != 200 {
		t.Fatalf("webhook: %d", r.StatusCode)
	}
	in := b.messages(t, "direction = 'inbound'")
	if len(in) != 1 || in[0].Status != "unmatched" || in[0].RideID != nil {
		t.Errorf("inbound = %+v, want one unmatched", in)
	}
	if out := b.messages(t, "kind = 'forward'"); len(out) != 0 {
		t.Errorf("forwards = %+v, want none", out)
	}
}

func TestWebhookSMS_BadInput(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	f := b.activeRide(t)
	ok := url.Values{"id": {"mb-1"}, "originator": {digits(f.customer.Phone)}, "recipient": {digits(f.ride.ProxyNumber)}, "payload": {"hi"}}
	without := func(k string, extra ...string) string {
		v := url.Values{}
		for key, val := range ok {
			if key != k {
				v[key] = val
			}
		}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v.Encode()
	}
	cases := []struct {
		name, ct, body string
		status         int
	}{
		{"no originator", "application/x-www-form-urlencoded", without("originator"), 400},
		{"no recipient", "application/x-www-form-urlencoded", without("recipient"), 400},
		{"no text", "application/x-www-form-urlencoded", without("payload"), 400},
		{"no id", "application/x-www-form-urlencoded", without("id"), 400},
		{"letters in number", "application/x-www-form-urlencoded", without("originator", "originator", "31CALLME"), 400},
		{"alphanumeric sender", "application/x-www-form-urlencoded", without("originator", "originator", "Vodafone"), 400},
		{"invalid UTF-8", "application/x-www-form-urlencoded", without("payload") + "&payload=%ff%fe", 400},
		{"broken JSON", "application/json", `{"id":`, 400},
		{"text/plain", "text/plain", "hello", 415},
		{"too large", "application/x-www-form-urlencoded", without("payload", "payload", strings.Repeat("a", 65<<10)), 413},
	}
	for _, tc := range cases {
		req := httptest.NewRequest("POST", "/webhook", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ct)
		r := b.do(t, req)
		if r.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, r.StatusCode, tc.status)
		}
		if msg, _ := io.ReadAll(r.Body); strings.Contains(string(msg), "SQLSTATE") || len(msg) == 0 {
			t.Errorf("%s: answer %q, want a clear message", tc.name, msg)
		}
	}
	if in := b.messages(t, "direction = 'inbound'"); len(in) != 0 {
		t.Errorf("recorded %d inbound messages from bad requests, want 0", len(in))
	}
}

func TestWebhookSMS_SameIDTenTimesConcurrentlyForwardsOnce(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.FreshDB(t)
	b := setup(t, pool)
	f := b.activeRide(t)
	form := url.Values{"id": {"mb-dup"}, "originator": {digits(f.customer.Phone)}, "recipient": {digits(f.ride.ProxyNumber)}, "payload": {"once"}}.Encode()
	var wg sync.WaitGroup
	codes := make([]int, 10)
	for i := range codes {
		wg.Go(func() {
			req := httptest.NewRequest("POST", "/webhook", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := b.srv.App().Test(req, -1)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("delivery %d: %d, want 200", i, c)
		}
	}
	if in := b.messages(t, "direction = 'inbound'"); len(in) != 1 {
		t.Errorf("inbound rows = %d, want 1", len(in))
	}
	var fwd, jobs int
	if err := pool.QueryRow(t.Context(), "SELECT (SELECT count(*) FROM messages WHERE kind = 'forward'), (SELECT count(*) FROM river_job WHERE kind = 'send_sms')").Scan(&fwd, &jobs); err != nil {
		t.Fatal(err)
	}
	if fwd != 1 || jobs != 3 { // the forward, plus the ride's two notifications
		t.Errorf("forwards = %d, send jobs = %d; want 1 and 3", fwd, jobs)
	}
}

// voice asks the voice webhook and parses its XML answer.
func (b *testBundle) voice(t *testing.T, source, destination string) (transfer *transferXML, say *sayXML) {
	t.Helper()
	q := url.Values{"source": {source}, "destination": {destination}, "callID": {"call-1"}}
	r := b.do(t, httptest.NewRequest("GET", "/webhook-voice?"+q.Encode(), nil))
	body, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/xml" {
		t.Fatalf("voice: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if !strings.HasPrefix(string(body), `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Fatalf("voice answer lacks the XML declaration: %s", body)
	}
	var probe struct{ XMLName xml.Name }
	if err := xml.Unmarshal(body, &probe); err != nil {
		t.Fatalf("voice answer is not well-formed XML: %v\n%s", err, body)
	}
	switch probe.XMLName.Local {
	case "Transfer":
		transfer = &transferXML{}
		if err := xml.Unmarshal(body, transfer); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), `mask="true"`) {
			t.Errorf("transfer without mask: %s", body)
		}
	case "Say":
		say = &sayXML{}
		if err := xml.Unmarshal(body, say); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unexpected voice answer %s", body)
	}
	return transfer, say
}

func TestWebhookVoice(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	f := b.activeRide(t)
	proxy := digits(f.ride.ProxyNumber)

	if tr, _ := b.voice(t, digits(f.customer.Phone), proxy); tr == nil || tr.Destination != digits(f.driver.Phone) {
		t.Errorf("customer's call: %+v, want transfer to the driver", tr)
	}
	if tr, _ := b.voice(t, digits(f.driver.Phone), proxy); tr == nil || tr.Destination != digits(f.customer.Phone) {
		t.Errorf("driver's call: %+v, want transfer to the customer", tr)
	}
	for _, src := range []string{"31655555555", "Restricted", "anonymous", "", `"/><Hangup/><x a="`, "\xff\xfe", "31 6 ' OR 1=1 --"} {
		if _, say := b.voice(t, src, proxy); say == nil || say.Text != notIdentified || say.Language != "en-GB" || say.Voice != "female" {
			t.Errorf("call from %q: %+v, want the apology", src, say)
		}
	}
	if _, say := b.voice(t, digits(f.customer.Phone), "<b>&amp;"); say == nil {
		t.Error("call to a garbage destination should get the apology")
	}

	var transferred, rejected int
	if err := b.srv.DB.QueryRow(t.Context(), "SELECT count(*) FILTER (WHERE outcome = 'transferred' AND ride_id = $1), count(*) FILTER (WHERE outcome = 'rejected' AND ride_id IS NULL) FROM calls", f.ride.ID).Scan(&transferred, &rejected); err != nil {
		t.Fatal(err)
	}
	if transferred != 2 || rejected != 8 {
		t.Errorf("calls recorded: %d transferred, %d rejected; want 2 and 8", transferred, rejected)
	}

	// After the grace period the number no longer connects them.
	if _, err := b.srv.endRide(t.Context(), b.q, f.ride.ID, "completed"); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(25 * time.Hour)
	if _, say := b.voice(t, digits(f.customer.Phone), proxy); say == nil {
		t.Error("call after the grace period should get the apology")
	}
}

func TestWebhookStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	f := b.activeRide(t)
	msgs, err := b.q.MessageListByRide(t.Context(), &f.ride.ID)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("notifications: %v %v", msgs, err)
	}
	id := msgs[0].ID
	report := func(method, status, at string) {
		v := url.Values{"id": {"mb-out-1"}, "reference": {itoa(id)}, "recipient": {"31611111111"}, "status": {status},
			"statusDatetime": {at}, "statusReason": {"unknown subscriber"}, "statusErrorCode": {"1"}}
		var req *http.Request
		if method == "GET" {
			req = httptest.NewRequest("GET", "/webhook-status?"+v.Encode(), nil)
		} else {
			req = httptest.NewRequest("POST", "/webhook-status", strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if r := b.do(t, req); r.StatusCode != 200 {
			t.Fatalf("report %s: %d", status, r.StatusCode)
		}
	}
	get := func() db.Message {
		m, err := b.q.MessageGet(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	report("GET", "delivered", "2026-05-01T12:00:05+00:00")
	if m := get(); m.Status != "delivered" || m.ProviderID == nil || *m.ProviderID != "mb-out-1" {
		t.Errorf("after delivered: %+v", m)
	}
	report("POST", "sent", "2026-05-01T12:00:01+00:00") // older: ignored
	if m := get(); m.Status != "delivered" {
		t.Errorf("an older report overwrote the status: %s", m.Status)
	}
	report("POST", "delivery_failed", "2026-05-01T12:00:09+00:00")
	if m := get(); m.Status != "failed" || m.LastError == nil || !strings.Contains(*m.LastError, "unknown subscriber") {
		t.Errorf("after delivery_failed: %+v", m)
	}
	// Unknown reference and garbage are acknowledged and ignored.
	for _, q := range []string{"reference=999999&status=delivered", "reference=abc&status=delivered", "reference=" + itoa(id) + "&status=bogus"} {
		if r := b.do(t, httptest.NewRequest("GET", "/webhook-status?"+q, nil)); r.StatusCode != 200 {
			t.Errorf("%s: %d, want 200", q, r.StatusCode)
		}
	}
	if m := get(); m.Status != "failed" {
		t.Errorf("ignored reports changed the status to %s", m.Status)
	}
}

func TestWebhook_Signatures(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	const key, public = "signing-key-for-tests", "https://birdcar.example.com"
	b.srv.useSigningKey(key)
	b.srv.PublicURL = public
	f := b.activeRide(t)
	form := url.Values{"id": {"mb-s"}, "originator": {digits(f.customer.Phone)}, "recipient": {digits(f.ride.ProxyNumber)}, "payload": {"signed"}}.Encode()
	voiceQuery := "/webhook-voice?" + url.Values{"source": {digits(f.customer.Phone)}, "destination": {digits(f.ride.ProxyNumber)}, "callID": {"c1"}}.Encode()
	now := time.Now()

	post := func(token, body string) int {
		req := httptest.NewRequest("POST", "/webhook", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if token != "" {
			req.Header.Set(signatureHeader, token)
		}
		return b.do(t, req).StatusCode
	}
	get := func(token, path string) int {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set(signatureHeader, token)
		return b.do(t, req).StatusCode
	}
	cases := []struct {
		name string
		got  int
		want int
	}{
		{"no signature", post("", form), 401},
		{"wrong key", post(signWebhook("other-key", public+"/webhook", []byte(form), now), form), 401},
		{"tampered body", post(signWebhook(key, public+"/webhook", []byte(form), now), form+"x"), 401},
		{"expired", post(signWebhook(key, public+"/webhook", []byte(form), now.Add(-5*time.Minute)), form), 401},
		{"garbage token", post("not.a.jwt", form), 401},
		{"tampered query", get(signWebhook(key, public+voiceQuery, nil, now), voiceQuery+"&source=31600000000"), 401},
		{"valid voice", get(signWebhook(key, public+voiceQuery, nil, now), voiceQuery), 200},
		{"valid SMS", post(signWebhook(key, public+"/webhook", []byte(form), now), form), 200},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	if in := b.messages(t, "direction = 'inbound'"); len(in) != 1 {
		t.Errorf("inbound messages = %d, want only the validly signed one", len(in))
	}
	var calls int
	if err := b.srv.DB.QueryRow(t.Context(), "SELECT count(*) FROM calls").Scan(&calls); err != nil || calls != 1 {
		t.Errorf("calls = %d, %v; want only the validly signed one", calls, err)
	}
}
