package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"birdcar/jobs/messagebird/fakebird"
)

const testToken = "load-test-token"

// standIn implements just enough of BirdCar's API and webhooks for the
// tool: it routes calls and forwards SMS through a real fakebird, and can
// drop or duplicate one forward.
type standIn struct {
	fake      *fakebird.Server
	dropNth   int // the n-th SMS webhook is acknowledged but never forwarded (0: none)
	doubleNth int // the n-th SMS webhook is forwarded twice (0: none)

	mu      sync.Mutex
	nextID  int64
	pool    []string                   // E.164
	people  map[string]map[string]bool // kind → phones
	phones  map[int64]string           // person id → E.164
	routes  map[string]string          // proxy digits + caller digits → other party digits
	smsSeen int
	calls   int         // voice webhooks received
	onCall  func(n int) // called under mu with calls so far; may be nil
}

func startStandIn(t *testing.T, dropNth, doubleNth int) (*standIn, *httptest.Server) {
	t.Helper()
	fake, err := fakebird.Start(fakebird.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	s := &standIn{
		fake: fake, dropNth: dropNth, doubleNth: doubleNth,
		people: map[string]map[string]bool{"customers": {}, "drivers": {}},
		phones: map[int64]string{},
		routes: map[string]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/numbers", s.auth(s.handleNumber))
	mux.HandleFunc("POST /api/v1/{kind}", s.auth(s.handlePerson))
	mux.HandleFunc("POST /api/v1/rides", s.auth(s.handleRide))
	mux.HandleFunc("GET /webhook-voice", s.handleVoice)
	mux.HandleFunc("POST /webhook", s.handleSMS)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return s, srv
}

func (s *standIn) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			writeProblem(w, http.StatusUnauthorized, "unauthorized")
			return
		}
		h(w, r)
	}
}

func writeProblem(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"status": status, "code": code, "detail": code})
}

func writeCreated(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(v)
}

func (s *standIn) handleNumber(w http.ResponseWriter, r *http.Request) {
	var in struct{ Number, Country string }
	json.NewDecoder(r.Body).Decode(&in)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.pool {
		if n == in.Number {
			writeProblem(w, http.StatusConflict, "duplicate_number")
			return
		}
	}
	s.pool = append(s.pool, in.Number)
	s.nextID++
	writeCreated(w, map[string]any{"id": s.nextID, "number": in.Number, "country": in.Country})
}

func (s *standIn) handlePerson(w http.ResponseWriter, r *http.Request) {
	kind := r.PathValue("kind")
	var in struct{ Name, Phone string }
	json.NewDecoder(r.Body).Decode(&in)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.people[kind] == nil {
		writeProblem(w, http.StatusNotFound, "not_found")
		return
	}
	if s.people[kind][in.Phone] {
		writeProblem(w, http.StatusConflict, "duplicate_phone")
		return
	}
	s.people[kind][in.Phone] = true
	s.nextID++
	s.phones[s.nextID] = in.Phone
	writeCreated(w, map[string]any{"id": s.nextID, "name": in.Name, "phone": in.Phone})
}

func (s *standIn) handleRide(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CustomerID int64 `json:"customer_id"`
		DriverID   int64 `json:"driver_id"`
	}
	json.NewDecoder(r.Body).Decode(&in)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pool) == 0 {
		writeProblem(w, http.StatusConflict, "pool_exhausted")
		return
	}
	s.nextID++
	proxy := s.pool[int(s.nextID)%len(s.pool)]
	customer, driver := digits(s.phones[in.CustomerID]), digits(s.phones[in.DriverID])
	s.routes[digits(proxy)+customer] = driver
	s.routes[digits(proxy)+driver] = customer
	writeCreated(w, map[string]any{"id": s.nextID, "status": "active", "proxy_number": proxy})
}

func (s *standIn) handleVoice(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	other, ok := s.routes[q.Get("destination")+q.Get("source")]
	s.calls++
	if s.onCall != nil {
		s.onCall(s.calls)
	}
	s.mu.Unlock()
	var v any = struct {
		XMLName  xml.Name `xml:"Say"`
		Language string   `xml:"language,attr"`
		Text     string   `xml:",chardata"`
	}{Language: "en-GB", Text: "This number is not in use."}
	if ok {
		v = struct {
			XMLName     xml.Name `xml:"Transfer"`
			Destination string   `xml:"destination,attr"`
			Mask        string   `xml:"mask,attr"`
		}{Destination: other, Mask: "true"}
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Write([]byte(xml.Header))
	xml.NewEncoder(w).Encode(v)
}

func (s *standIn) handleSMS(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	proxy := r.PostForm.Get("recipient")
	s.mu.Lock()
	other, ok := s.routes[proxy+r.PostForm.Get("originator")]
	s.smsSeen++
	nth := s.smsSeen
	s.mu.Unlock()
	bodies := []string{r.PostForm.Get("payload")}
	switch {
	case !ok || nth == s.dropNth:
		bodies = nil
	case nth == s.doubleNth:
		bodies = append(bodies, bodies[0])
	case nth == 1:
		// Like a late ride notification: the tool must ignore it.
		bodies = append(bodies, "Your driver is on the way")
	}
	for _, b := range bodies {
		if err := s.forward(proxy, other, b); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// forward sends body from proxy to recipient through the fake MessageBird.
func (s *standIn) forward(proxy, recipient, body string) error {
	msg, err := json.Marshal(map[string]any{"originator": proxy, "recipients": []string{recipient}, "body": body})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, s.fake.URL+"/messages", bytes.NewReader(msg))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "AccessKey test")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("fake answered %s", resp.Status)
	}
	return nil
}

// loadArgs are flags for a short run against srv and fake. -count ends
// each phase; -duration only stops a hung one, and is long so that a busy
// machine still makes every call the tests count.
func loadArgs(srv *httptest.Server, fake *fakebird.Server, extra ...string) []string {
	return append([]string{
		"-target", srv.URL, "-fake", fake.URL, "-token", testToken, "-json",
		"-rides", "4", "-numbers", "2", "-concurrency", "4", "-count", "40",
		"-rate", "500", "-duration", "1m", "-drain", "1s", "-stranger", "0.25",
	}, extra...)
}

func decodeReport(t *testing.T, out []byte) report {
	t.Helper()
	var rep report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out)
	}
	return rep
}

func TestRun_AccountsForEverySMS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		dropNth, dubNth   int
		wantLost, wantDup int
		wantErr           bool
	}{
		{name: "exactly once", wantErr: false},
		{name: "one lost one duplicated", dropNth: 3, dubNth: 5, wantLost: 1, wantDup: 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, srv := startStandIn(t, tt.dropNth, tt.dubNth)
			var out bytes.Buffer
			err := run(t.Context(), loadArgs(srv, s.fake, "-require-exact"), &out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("run: err = %v, want error: %v\n%s", err, tt.wantErr, out.String())
			}
			rep := decodeReport(t, out.Bytes())

			if rep.Interrupted || rep.Rides != 4 || len(rep.Phases) != 3 {
				t.Fatalf("report = %+v, want 4 rides and 3 phases, not interrupted", rep)
			}
			for _, p := range rep.Phases {
				if p.OK != p.Requests || len(p.Non2xx)+len(p.TransportErrors)+len(p.Invalid) > 0 {
					t.Errorf("phase %s: %d of %d ok, non-2xx %v, transport %v, invalid %v",
						p.Name, p.OK, p.Requests, p.Non2xx, p.TransportErrors, p.Invalid)
				}
			}
			if voice := rep.Phases[1]; voice.Requests != 40 || voice.Latency.N != 40 {
				t.Errorf("voice: %d requests, %d samples, want 40", voice.Requests, voice.Latency.N)
			}
			e2e := rep.SMS
			if e2e == nil {
				t.Fatal("no sms end-to-end report")
			}
			want := smsReport{
				Acknowledged:  40,
				ForwardedOnce: 40 - tt.wantLost - tt.wantDup,
				Lost:          tt.wantLost,
				Duplicated:    tt.wantDup,
			}
			got := smsReport{
				Acknowledged: e2e.Acknowledged, ForwardedOnce: e2e.ForwardedOnce,
				Lost: e2e.Lost, Duplicated: e2e.Duplicated,
				Misrouted: e2e.Misrouted, ForwardedUnacknowledged: e2e.ForwardedUnacknowledged,
			}
			if got != want {
				t.Errorf("sms accounting = %+v, want %+v", got, want)
			}
			// Measurable only once the fake keeps fractions of a second.
			if l := e2e.ForwardLatency; l != nil && l.N != 40-tt.wantLost || l == nil && !e2e.WholeSecondTimestamps {
				t.Errorf("forward latency = %+v (whole seconds: %v), want %d samples", l, e2e.WholeSecondTimestamps, 40-tt.wantLost)
			}
		})
	}
}

func TestRun_PrintsTable(t *testing.T) {
	t.Parallel()
	s, srv := startStandIn(t, 0, 0)
	s.pool = append(s.pool, "+3197099000000") // as an earlier run left it
	var out bytes.Buffer
	args := loadArgs(srv, s.fake, "-json=false", "-count", "10")
	if err := run(t.Context(), args, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"setup", "voice", "sms", "forwarded exactly once", "409 duplicate_number"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRun_InterruptedStillReports(t *testing.T) {
	t.Parallel()
	s, srv := startStandIn(t, 0, 0)
	ctx, cancel := context.WithCancel(t.Context())
	var interrupted time.Time
	s.mu.Lock()
	s.onCall = func(n int) {
		// As SIGINT would, mid-load: some calls into the voice phase,
		// however long the set-up took.
		if n == 10 {
			interrupted = time.Now()
			cancel()
		}
	}
	s.mu.Unlock()
	var out bytes.Buffer
	err := run(ctx, loadArgs(srv, s.fake, "-count", "1000000", "-duration", "30s"), &out)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("run: err = %v, want interrupted", err)
	}
	s.mu.Lock()
	at := interrupted
	s.mu.Unlock()
	if at.IsZero() {
		t.Fatal("run ended before the 10th call")
	}
	if d := time.Since(at); d > 2*time.Second {
		t.Errorf("run took %v after the interrupt", d)
	}
	rep := decodeReport(t, out.Bytes())
	if !rep.Interrupted || len(rep.Phases) < 2 || rep.Phases[1].Requests == 0 {
		t.Errorf("report = %+v, want an interrupted run with a voice phase", rep)
	}
}

func TestRun_SetupFailureIsClear(t *testing.T) {
	t.Parallel()
	s, srv := startStandIn(t, 0, 0)
	var out bytes.Buffer
	err := run(t.Context(), loadArgs(srv, s.fake, "-numbers", "0"), &out)
	if err == nil || !strings.Contains(err.Error(), "pool_exhausted") || !strings.Contains(err.Error(), "-numbers") {
		t.Errorf("run: err = %v, want pool_exhausted with a hint", err)
	}
}

func TestRun_RefusesNonLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, flag, url string }{
		{"private target", "-target", "http://10.0.0.1:8080"},
		{"public name", "-target", "http://example.com"},
		{"name ending in a loopback address", "-target", "http://127.0.0.1.example.com"},
		{"unspecified address", "-target", "http://0.0.0.0:8080"},
		{"remote fake", "-fake", "http://192.168.1.10:8081"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := run(t.Context(), []string{"-token", "x", tt.flag, tt.url}, &out)
			if !errors.Is(err, errNotLoopback) || !strings.Contains(err.Error(), tt.flag) {
				t.Errorf("run(%s %s): err = %v, want a refusal naming the flag", tt.flag, tt.url, err)
			}
			if out.Len() > 0 {
				t.Errorf("printed %q before refusing", out.String())
			}
		})
	}
}

func TestLoopbackURL_AcceptsLoopback(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"http://127.0.0.1:8080", "http://127.1.2.3", "http://[::1]:9000", "http://localhost:8080", "https://LOCALHOST"} {
		if _, err := loopbackURL("target", raw); err != nil {
			t.Errorf("loopbackURL(%q): %v", raw, err)
		}
	}
}

func TestLoopbackOnly_RefusesRemoteDial(t *testing.T) {
	t.Parallel()
	for addr, wantOK := range map[string]bool{"127.0.0.1:80": true, "[::1]:80": true, "10.1.1.1:80": false, "[2001:db8::1]:80": false} {
		if err := loopbackOnly("tcp", addr, nil); (err == nil) != wantOK {
			t.Errorf("loopbackOnly(%s) = %v, want allowed: %v", addr, err, wantOK)
		}
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", []time.Duration{7}, 99, 7},
		{"median of ten", ten, 50, 5},
		{"p95 of ten", ten, 95, 10},
		{"p90 of ten", ten, 90, 9},
		{"max", ten, 100, 10},
		{"tiny p is the minimum", ten, 0.1, 1},
	}
	for _, tt := range tests {
		if got := percentile(tt.samples, tt.p); got != tt.want {
			t.Errorf("%s: percentile(p%v) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestCheckVoice(t *testing.T) {
	t.Parallel()
	const xmlType = "application/xml; charset=utf-8"
	transfer := func(attrs string) []byte {
		return []byte(xml.Header + "<Transfer " + attrs + "/>")
	}
	say := []byte(xml.Header + `<Say language="en-GB" voice="female">Sorry</Say>`)
	tests := []struct {
		name        string
		status      int
		contentType string
		body        []byte
		want        string // party to transfer to; "" for a stranger
		wantFault   string
	}{
		{"party transferred", 200, xmlType, transfer(`destination="316" mask="true"`), "316", ""},
		{"stranger told", 200, "application/xml", say, "", ""},
		{"wrapped in a root", 200, xmlType, []byte(`<Flow><Transfer destination="316" mask="true"/></Flow>`), "316", ""},
		{"wrong party", 200, xmlType, transfer(`destination="317" mask="true"`), "316", "wrong_destination"},
		{"number leaked", 200, xmlType, transfer(`destination="316" make="true"`), "316", "not_masked"},
		{"party told off", 200, xmlType, say, "316", "no_transfer"},
		{"stranger transferred", 200, xmlType, transfer(`destination="316" mask="true"`), "", "stranger_transferred"},
		{"stranger ignored", 200, xmlType, []byte(xml.Header + "<Hangup/>"), "", "no_say"},
		{"not xml", 200, "text/plain", say, "", "not_xml"},
		{"broken xml", 200, xmlType, []byte("<Transfer destination="), "316", "bad_xml"},
		{"no content", 204, xmlType, nil, "316", "status_204"},
	}
	for _, tt := range tests {
		if got := checkVoice(tt.status, tt.contentType, tt.body, tt.want); got != tt.wantFault {
			t.Errorf("%s: checkVoice = %q, want %q", tt.name, got, tt.wantFault)
		}
	}
}

func TestSeqOf(t *testing.T) {
	t.Parallel()
	l := &loader{runID: "0badcafe"}
	tests := []struct {
		body   string
		want   int
		wantOK bool
	}{
		{l.token(12), 12, true},
		{"Driver: " + l.token(7) + " (via BirdCar)", 7, true},
		{"load 0badcafe", 0, false},
		{"load 00000000 3", 0, false},
		{"Your driver is on the way", 0, false},
	}
	for _, tt := range tests {
		if got, ok := l.seqOf(tt.body); got != tt.want || ok != tt.wantOK {
			t.Errorf("seqOf(%q) = %d, %v, want %d, %v", tt.body, got, ok, tt.want, tt.wantOK)
		}
	}
}
