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

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"birdcar/jobs/messagebird"
	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

// rideFixture is an active ride between a customer and a driver.
type rideFixture struct {
	customer ride.Person
	driver   ride.Person
	ride     ride.Ride
}

func (b *testBundle) activeRide(t testing.TB) rideFixture {
	t.Helper()
	c, d, _ := b.People(t, 1)
	r, err := b.CreateRide(t, c, d)
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

// rideMessages lists the messages of r's ride, oldest first, as its
// timeline shows them (only those the ride's routes matched) and keep
// admits them; a nil keep admits all.
func (b *testBundle) rideMessages(t testing.TB, r ride.Ride, keep func(ride.Message) bool) []ride.Message {
	t.Helper()
	events, err := b.Rides.Timeline(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	var out []ride.Message
	for _, ev := range events {
		if m := ev.Message; m != nil && m.RideID != nil && *m.RideID == r.ID && (keep == nil || keep(*m)) {
			out = append(out, *m)
		}
	}
	return out
}

// unmatched lists the texts and the calls no route matched, newest first.
func (b *testBundle) unmatched(t testing.TB) ([]ride.Message, []ride.Call) {
	t.Helper()
	o, err := b.Rides.Overview(t.Context(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return o.UnmatchedTexts, o.UnmatchedCalls
}

// inbound lists every text BirdCar received while f's ride is the only
// one: those routed to the ride, oldest first, then those no route
// matched, newest first.
func (b *testBundle) inbound(t testing.TB, f rideFixture) []ride.Message {
	t.Helper()
	in := b.rideMessages(t, f.ride, func(m ride.Message) bool { return m.Direction == ride.Inbound })
	texts, _ := b.unmatched(t)
	return append(in, texts...)
}

// forwards lists the forwards of f's ride, oldest first, that keep admits
// (nil: all). Every forward belongs to a ride.
func (b *testBundle) forwards(t testing.TB, f rideFixture, keep func(ride.Message) bool) []ride.Message {
	t.Helper()
	return b.rideMessages(t, f.ride, func(m ride.Message) bool { return m.Kind == ride.KindForward && (keep == nil || keep(m)) })
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
	in := b.inbound(t, f)
	if len(in) != 1 || in[0].Status != ride.StatusReceived || in[0].RideID == nil || *in[0].RideID != f.ride.ID ||
		in[0].Originator != f.customer.Phone || in[0].ReceivedID == nil || *in[0].ReceivedID != "mb-1" || in[0].Body != text {
		t.Fatalf("inbound = %+v", in)
	}
	fwd := b.forwards(t, f, nil)
	if len(fwd) != 1 || fwd[0].Recipient != f.driver.Phone || fwd[0].Originator != f.ride.ProxyNumber ||
		fwd[0].Body != text || fwd[0].Status != ride.StatusQueued || fwd[0].ForwardOf == nil || *fwd[0].ForwardOf != in[0].ID {
		t.Fatalf("forward = %+v", fwd)
	}
	if of, err := b.Rides.ForwardOf(t.Context(), "mb-1"); err != nil || of == nil || of.ID != fwd[0].ID {
		t.Errorf("ForwardOf(mb-1) = %+v, %v; want the forward %d", of, err, fwd[0].ID)
	}

	// The driver answers, in JSON with the alias names and numbers as numbers.
	body := fmt.Sprintf(`{"message_id":"mb-2","sender":%s,"receiver":%s,"body":"On my way"}`, digits(f.driver.Phone), digits(f.ride.ProxyNumber))
	req := httptest.NewRequest("POST", "/webhook", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if r := b.do(t, req); r.StatusCode != 200 {
		t.Fatalf("JSON webhook: %d", r.StatusCode)
	}
	back := b.forwards(t, f, func(m ride.Message) bool { return m.Recipient == f.customer.Phone })
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
	in := b.inbound(t, f)
	if len(in) != 1 || in[0].Status != ride.StatusUnmatched || in[0].RideID != nil {
		t.Errorf("inbound = %+v, want one unmatched", in)
	}
	if out := b.forwards(t, f, nil); len(out) != 0 {
		t.Errorf("forwards = %+v, want none", out)
	}
	if of, err := b.Rides.ForwardOf(t.Context(), "mb-x"); err != nil || of != nil {
		t.Errorf("ForwardOf(mb-x) = %+v, %v; want none", of, err)
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
	if in := b.inbound(t, f); len(in) != 0 {
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
	if in := b.inbound(t, f); len(in) != 1 {
		t.Errorf("inbound rows = %d, want 1", len(in))
	}
	// River's own view of the queue: the database holds the jobs.
	queue, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := queue.JobList(t.Context(), river.NewJobListParams().Kinds(ride.SendArgs{}.Kind()))
	if err != nil {
		t.Fatal(err)
	}
	if fwd := len(b.forwards(t, f, nil)); fwd != 1 || len(jobs.Jobs) != 3 { // the forward, plus the ride's two notifications
		t.Errorf("forwards = %d, send jobs = %d; want 1 and 3", fwd, len(jobs.Jobs))
	}
}

// voiceTransfer and voiceSay are the voice webhook's two answers, as
// MessageBird reads them.
type voiceTransfer struct {
	XMLName     xml.Name `xml:"Transfer"`
	Destination string   `xml:"destination,attr"`
	Mask        bool     `xml:"mask,attr"`
}

type voiceSay struct {
	XMLName  xml.Name `xml:"Say"`
	Language string   `xml:"language,attr"`
	Voice    string   `xml:"voice,attr"`
	Text     string   `xml:",chardata"`
}

// notIdentified is what a caller no ride connects hears.
const notIdentified = "Sorry, we cannot identify your transaction. Make sure you call in from the number you registered."

// voice asks the voice webhook and parses its XML answer.
func (b *testBundle) voice(t *testing.T, source, destination string) (transfer *voiceTransfer, say *voiceSay) {
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
		transfer = &voiceTransfer{}
		if err := xml.Unmarshal(body, transfer); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), `mask="true"`) {
			t.Errorf("transfer without mask: %s", body)
		}
	case "Say":
		say = &voiceSay{}
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
	events, err := b.Rides.Timeline(t.Context(), f.ride)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if c := ev.Call; c != nil && c.Outcome == ride.CallTransferred && c.RideID != nil && *c.RideID == f.ride.ID {
			transferred++
		}
	}
	_, calls := b.unmatched(t)
	for _, c := range calls {
		if c.Outcome == ride.CallRejected && c.RideID == nil {
			rejected++
		}
	}
	if transferred != 2 || rejected != 8 {
		t.Errorf("calls recorded: %d transferred, %d rejected; want 2 and 8", transferred, rejected)
	}

	// After the grace period the number no longer connects them.
	if _, err := b.Rides.EndRide(t.Context(), f.ride.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	b.Clock.Advance(25 * time.Hour)
	if _, say := b.voice(t, digits(f.customer.Phone), proxy); say == nil {
		t.Error("call after the grace period should get the apology")
	}
}

func TestWebhookStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	f := b.activeRide(t)
	msgs := b.rideMessages(t, f.ride, nil)
	if len(msgs) != 2 {
		t.Fatalf("notifications: %+v", msgs)
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
	get := func() ride.Message {
		m := b.rideMessages(t, f.ride, func(m ride.Message) bool { return m.ID == id })
		if len(m) != 1 {
			t.Fatalf("message %d: %+v", id, m)
		}
		return m[0]
	}
	report("GET", "delivered", "2026-05-01T12:00:05+00:00")
	if m := get(); m.Status != ride.StatusDelivered || m.ProviderID == nil || *m.ProviderID != "mb-out-1" {
		t.Errorf("after delivered: %+v", m)
	}
	report("POST", "sent", "2026-05-01T12:00:01+00:00") // older: ignored
	if m := get(); m.Status != ride.StatusDelivered {
		t.Errorf("an older report overwrote the status: %s", m.Status)
	}
	report("POST", "delivery_failed", "2026-05-01T12:00:09+00:00")
	if m := get(); m.Status != ride.StatusFailed || m.LastError == nil || !strings.Contains(*m.LastError, "unknown subscriber") {
		t.Errorf("after delivery_failed: %+v", m)
	}
	// Unknown reference and garbage are acknowledged and ignored.
	for _, q := range []string{"reference=999999&status=delivered", "reference=abc&status=delivered", "reference=" + itoa(id) + "&status=bogus"} {
		if r := b.do(t, httptest.NewRequest("GET", "/webhook-status?"+q, nil)); r.StatusCode != 200 {
			t.Errorf("%s: %d, want 200", q, r.StatusCode)
		}
	}
	if m := get(); m.Status != ride.StatusFailed {
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
			req.Header.Set(messagebird.SignatureHeader, token)
		}
		return b.do(t, req).StatusCode
	}
	get := func(token, path string) int {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set(messagebird.SignatureHeader, token)
		return b.do(t, req).StatusCode
	}
	cases := []struct {
		name string
		got  int
		want int
	}{
		{"no signature", post("", form), 401},
		{"wrong key", post(messagebird.Sign("other-key", public+"/webhook", []byte(form), now), form), 401},
		{"tampered body", post(messagebird.Sign(key, public+"/webhook", []byte(form), now), form+"x"), 401},
		{"expired", post(messagebird.Sign(key, public+"/webhook", []byte(form), now.Add(-5*time.Minute)), form), 401},
		{"garbage token", post("not.a.jwt", form), 401},
		{"tampered query", get(messagebird.Sign(key, public+voiceQuery, nil, now), voiceQuery+"&source=31600000000"), 401},
		{"valid voice", get(messagebird.Sign(key, public+voiceQuery, nil, now), voiceQuery), 200},
		{"valid SMS", post(messagebird.Sign(key, public+"/webhook", []byte(form), now), form), 200},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	if in := b.inbound(t, f); len(in) != 1 {
		t.Errorf("inbound messages = %d, want only the validly signed one", len(in))
	}
	if calls := dbtest.Rows(t, b.Rides.DB, "calls"); calls != 1 {
		t.Errorf("calls = %d; want only the validly signed one", calls)
	}
}
