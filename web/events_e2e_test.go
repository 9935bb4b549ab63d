package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"birdcar/jobs"
	"birdcar/sql/ride"
)

// eventReceiver is the platform's endpoint as a careful platform writes
// it: it checks the signature, answers 503 to the first failFirst
// deliveries of each event, and processes each event id once.
type eventReceiver struct {
	t         *testing.T
	secret    string
	failFirst int
	mu        sync.Mutex
	attempts  map[string]int // deliveries per event id
	processed []receivedEvent
	badSigs   int
}

type receivedEvent struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
	raw       string
}

func (rc *eventReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !rc.verify(r.Header.Get("BirdCar-Signature"), body) {
		rc.mu.Lock()
		rc.badSigs++
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	var ev receivedEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.Type == "" || ev.CreatedAt.IsZero() {
		rc.t.Errorf("event %s: not the documented shape (%v)", body, err)
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	ev.raw = string(body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts[ev.ID]++
	if rc.attempts[ev.ID] <= rc.failFirst {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	if !slices.ContainsFunc(rc.processed, func(p receivedEvent) bool { return p.ID == ev.ID }) {
		rc.processed = append(rc.processed, ev)
	}
	w.WriteHeader(http.StatusNoContent)
}

// verify checks a signature as README tells platforms to, written here
// from the description rather than with BirdCar's own code.
func (rc *eventReceiver) verify(header string, body []byte) bool {
	var ts, sig string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(rc.secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(sig), []byte(want))
}

func (rc *eventReceiver) snapshot() ([]receivedEvent, map[string]int, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	attempts := make(map[string]int, len(rc.attempts))
	for k, v := range rc.attempts {
		attempts[k] = v
	}
	return slices.Clone(rc.processed), attempts, rc.badSigs
}

// TestEndToEnd_Events plays rides through the webhooks and the API with
// events going to a real HTTP receiver that fails the first two
// deliveries of every event; each event type arrives, signed, once per id.
// It also checks what a past party and a stranger get after a ride.
func TestEndToEnd_Events(t *testing.T) {
	t.Parallel()
	const secret = "whsec-0123456789abcdefghijklmnopqrstuv"
	rc := &eventReceiver{t: t, secret: secret, failFirst: 2, attempts: map[string]int{}}
	receiver := httptest.NewServer(rc)
	t.Cleanup(receiver.Close)
	fake, sender := fakeMessageBird(t)
	var offset atomic.Int64 // the rules' clock, moved past a grace period
	const reply = "This ride has ended; use the app."
	rides := &ride.Service{DefaultCountry: "NL", GracePeriod: time.Hour, PoolLowWatermark: 3, Events: true,
		OutOfSessionWindow: 7 * 24 * time.Hour, OutOfSessionReply: reply,
		Clock: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }}
	base := serveLiveJobs(t, jobs.Config{Sender: sender, EventsURL: receiver.URL, EventsSecret: secret}, rides, &Server{APITokens: []string{testToken}})

	call := func(method, path string, body any, out any) int {
		t.Helper()
		var r io.Reader
		if body != nil {
			buf, _ := json.Marshal(body)
			r = strings.NewReader(string(buf))
		}
		req, _ := http.NewRequest(method, base+path, r)
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}
	const stranger = "+31687000000"
	var cust, drv, rejected personJSON
	var num numberJSON
	var first, second rideJSON
	call("POST", "/api/v1/customers", map[string]string{"name": "Caitlin", "phone": "+31611111111"}, &cust)
	call("POST", "/api/v1/drivers", map[string]string{"name": "Dave", "phone": "+31622222222"}, &drv)
	call("POST", "/api/v1/drivers", map[string]string{"name": "Nobody", "phone": "+31633333333"}, &rejected)
	call("POST", "/api/v1/numbers", map[string]string{"number": "+3197000000001"}, &num)
	call("POST", "/api/v1/numbers", map[string]string{"number": "+3197000000002"}, &num)
	fake.SetRejectRecipients(digits(rejected.Phone))
	pickup := time.Now().Add(time.Hour).Format(time.RFC3339)
	call("POST", "/api/v1/rides", map[string]any{"customer_id": cust.ID, "driver_id": drv.ID, "start": "Dam 1", "destination": "Schiphol", "pickup_at": pickup}, &first)
	call("POST", "/api/v1/rides", map[string]any{"customer_id": cust.ID, "driver_id": rejected.ID, "start": "Dam 1", "destination": "Zuid", "pickup_at": pickup}, &second)

	sms := func(id, from, to string) {
		t.Helper()
		form := url.Values{"id": {id}, "originator": {digits(from)}, "recipient": {digits(to)}, "payload": {"hello"},
			"createdDatetime": {time.Now().Format(time.RFC3339)}}
		resp, err := http.PostForm(base+"/webhook", form)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("SMS webhook: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	calls := 0
	voice := func(from, to string) string {
		t.Helper()
		calls++
		q := url.Values{"source": {digits(from)}, "destination": {digits(to)}, "callID": {"call-" + strconv.Itoa(calls)}}
		resp, err := http.Get(base + "/webhook-voice?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	sms("in-1", cust.Phone, first.ProxyNumber) // forwarded
	voice(cust.Phone, first.ProxyNumber)       // transferred
	sms("in-2", stranger, first.ProxyNumber)   // unknown sender
	voice(stranger, first.ProxyNumber)         // unknown caller
	call("POST", "/api/v1/rides/"+itoa(first.ID)+"/end", nil, nil)

	// Past the grace period the customer is a past party of the first ride.
	offset.Store(int64(2 * time.Hour))
	sms("in-3", cust.Phone, first.ProxyNumber)
	sms("in-4", cust.Phone, first.ProxyNumber)
	if answer := voice(cust.Phone, first.ProxyNumber); !strings.Contains(answer, "<Say") || !strings.Contains(answer, reply) || strings.Contains(answer, "Transfer") {
		t.Errorf("the past party's call was answered %s, want the reply read out", answer)
	}

	want := map[string]int{"ride.created": 2, "pool.low": 1, "message.forwarded": 1, "message.failed": 1, "call.transferred": 1,
		"message.unmatched": 3, "call.unmatched": 2, "ride.ended": 1}
	deadline := time.Now().Add(60 * time.Second)
	var got map[string]int
	for {
		processed, _, _ := rc.snapshot()
		got = map[string]int{}
		for _, ev := range processed {
			got[ev.Type]++
		}
		// Every event it expects, counted: one still in flight (a retry)
		// arrives later than the others.
		if maps.Equal(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("%s: %d processed, want %d (all: %v)", typ, got[typ], n, got)
		}
	}
	processed, attempts, badSigs := rc.snapshot()
	if badSigs != 0 {
		t.Errorf("%d deliveries with a bad signature", badSigs)
	}
	reasons := map[string]int{}
	for _, ev := range processed {
		if attempts[ev.ID] < 3 {
			t.Errorf("event %s processed after %d deliveries: the two failures were not retried", ev.ID, attempts[ev.ID])
		}
		for _, p := range []string{cust.Phone, drv.Phone, rejected.Phone, stranger} {
			if strings.Contains(ev.raw, digits(p)) {
				t.Errorf("event %s carries a phone number: %s", ev.Type, ev.raw)
			}
		}
		var data struct {
			Reason   string `json:"reason"`
			PersonID *int64 `json:"person_id"`
		}
		json.Unmarshal(ev.Data, &data)
		if strings.HasSuffix(ev.Type, ".unmatched") {
			reasons[ev.Type+" "+data.Reason]++
			if data.Reason == ride.ReasonSessionEnded && (data.PersonID == nil || *data.PersonID != cust.ID) {
				t.Errorf("%s names person %v, want the customer %d", ev.Type, data.PersonID, cust.ID)
			}
		}
	}
	for k, n := range map[string]int{"message.unmatched unknown_sender": 1, "message.unmatched session_ended": 2,
		"call.unmatched unknown_sender": 1, "call.unmatched session_ended": 1} {
		if reasons[k] != n {
			t.Errorf("%s: %d, want %d (all: %v)", k, reasons[k], n, reasons)
		}
	}
	// The past party got one reply from the number, the stranger none.
	toCustomer, toStranger := 0, 0
	for _, a := range fake.Accepted() {
		switch {
		case slices.Contains(a.Recipients, digits(cust.Phone)) && a.Body == reply && a.Originator == digits(first.ProxyNumber):
			toCustomer++
		case slices.Contains(a.Recipients, digits(stranger)):
			toStranger++
		}
	}
	if toCustomer != 1 || toStranger != 0 {
		t.Errorf("replies: %d to the past party (want 1), %d to the stranger (want 0)", toCustomer, toStranger)
	}
}
