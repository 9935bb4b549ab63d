// Package fakebird is a fake of MessageBird's SMS REST API (POST /messages)
// for tests and load runs. It checks the access key, records what it
// accepts, and can be made slow, failing, hanging or picky about recipients,
// at start and while running, from Go or over HTTP (/_fake/...).
package fakebird

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures Start. The switches can be changed later with the
// Server's setters or POST /_fake/config.
type Options struct {
	Addr             string        // listen address; default "127.0.0.1:0" (a free port)
	Key              string        // access key clients must send; empty accepts any
	Latency          time.Duration // delay before every answer to POST /messages
	FailRate         float64       // fraction of requests answered 500
	TimeoutRate      float64       // fraction of requests never answered (until the client gives up)
	RejectRecipients []string      // numbers answered 422 as incorrect recipients ('+' optional)
	Seed             uint64        // seeds failure rolls and message ids; 0 picks one at random
}

// Accepted is one message the fake accepted.
type Accepted struct {
	ID         string    `json:"id"`
	Reference  string    `json:"reference"`
	Originator string    `json:"originator"`
	Recipients []string  `json:"recipients"`
	Body       string    `json:"body"`
	ReportURL  string    `json:"report_url"`
	DataCoding string    `json:"datacoding"`
	ReceivedAt time.Time `json:"received_at"`
}

// Counts tallies requests to POST /messages by outcome.
type Counts struct {
	Accepted     int `json:"accepted"`     // 201
	Unauthorized int `json:"unauthorized"` // 401
	Rejected     int `json:"rejected"`     // 422
	Failed       int `json:"failed"`       // 500
	TimedOut     int `json:"timed_out"`    // never answered
}

// Server is a running fake. Safe for concurrent use.
type Server struct {
	URL string // base URL, e.g. http://127.0.0.1:40123

	key string
	hs  *http.Server

	mu          sync.Mutex
	rng         *rand.Rand
	latency     time.Duration
	failRate    float64
	timeoutRate float64
	failNext    int
	reject      map[string]bool
	accepted    []Accepted
	counts      Counts
	changed     chan struct{} // closed and replaced on each accept, to wake WaitAccepted
}

// Start listens on opts.Addr and serves until Close.
func Start(opts Options) (*Server, error) {
	for _, r := range []float64{opts.FailRate, opts.TimeoutRate} {
		if err := checkRate(r); err != nil {
			return nil, fmt.Errorf("fakebird: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cmp.Or(opts.Addr, "127.0.0.1:0"))
	if err != nil {
		return nil, fmt.Errorf("fakebird: %w", err)
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{
		URL:         "http://" + ln.Addr().String(),
		key:         opts.Key,
		rng:         rand.New(rand.NewPCG(seed, seed)),
		latency:     opts.Latency,
		failRate:    opts.FailRate,
		timeoutRate: opts.TimeoutRate,
		changed:     make(chan struct{}),
	}
	s.SetRejectRecipients(opts.RejectRecipients...)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /messages", s.handleCreate)
	mux.HandleFunc("GET /_fake/accepted", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Accepted())
	})
	mux.HandleFunc("GET /_fake/counts", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Counts())
	})
	mux.HandleFunc("POST /_fake/config", s.handleConfig)
	mux.HandleFunc("POST /_fake/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	s.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.hs.Serve(ln) // its only error, ErrServerClosed, means Close was called
	return s, nil
}

// Close stops the server at once. Closing the connections also ends the
// requests held by TimeoutRate.
func (s *Server) Close() {
	_ = s.hs.Close() // only listener errors, nothing a caller could act on
}

// SetLatency sets the delay before every answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetFailRate sets the fraction of requests answered 500.
func (s *Server) SetFailRate(f float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failRate = f
}

// SetTimeoutRate sets the fraction of requests that are never answered.
func (s *Server) SetTimeoutRate(f float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timeoutRate = f
}

// FailNext makes the next n requests to POST /messages answer 500, before
// any other check: a deterministic outage for tests.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

// SetRejectRecipients replaces the set of numbers MessageBird "cannot reach".
func (s *Server) SetRejectRecipients(numbers ...string) {
	reject := make(map[string]bool, len(numbers))
	for _, n := range numbers {
		reject[strings.TrimPrefix(strings.TrimSpace(n), "+")] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = reject
}

// Reset forgets accepted messages, counts and a pending FailNext; the other
// switches keep their values.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accepted = nil
	s.counts = Counts{}
	s.failNext = 0
}

// Accepted returns the accepted messages, oldest first.
func (s *Server) Accepted() []Accepted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Accepted{}, s.accepted...)
}

// Counts returns the tally of requests by outcome.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// WaitAccepted blocks until at least n messages are accepted, then returns
// them all, or fails when ctx ends.
func (s *Server) WaitAccepted(ctx context.Context, n int) ([]Accepted, error) {
	for {
		s.mu.Lock()
		got, changed := len(s.accepted), s.changed
		if got >= n {
			out := append([]Accepted{}, s.accepted...)
			s.mu.Unlock()
			return out, nil
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("fakebird: %d of %d messages accepted: %w", got, n, ctx.Err())
		case <-changed:
		}
	}
}

type fault int

const (
	faultNone fault = iota
	faultFail
	faultHang
)

// roll decides, under the lock, what an incoming request will suffer.
func (s *Server) roll() (time.Duration, fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		s.counts.Failed++
		return s.latency, faultFail
	}
	switch x := s.rng.Float64(); {
	case x < s.timeoutRate:
		s.counts.TimedOut++
		return s.latency, faultHang
	case x < s.timeoutRate+s.failRate:
		s.counts.Failed++
		return s.latency, faultFail
	}
	return s.latency, faultNone
}

// createRequest is the body the SDK's sms.Create sends (JSON).
type createRequest struct {
	Originator string `json:"originator"`
	Body       string `json:"body"`
	Recipients []any  `json:"recipients"` // strings or numbers, as the real API allows
	Reference  string `json:"reference"`
	ReportURL  string `json:"reportUrl"`
	DataCoding string `json:"datacoding"`
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	// Read the body first: only then does net/http notice a client that hangs
	// up, which is what ends a request held by TimeoutRate.
	raw, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))

	latency, f := s.roll()
	select {
	case <-time.After(latency):
	case <-r.Context().Done():
		return
	}
	switch f {
	case faultHang:
		<-r.Context().Done()
		return
	case faultFail:
		writeError(w, http.StatusInternalServerError, 99, "Internal error", "")
		return
	}

	if !s.authorized(r) {
		s.count(func(c *Counts) { c.Unauthorized++ })
		writeError(w, http.StatusUnauthorized, 2, "Request not allowed (incorrect access_key)", "access_key")
		return
	}
	var req createRequest
	if readErr == nil {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber() // keeps numeric recipients exact
		readErr = dec.Decode(&req)
	}
	var code int
	var desc, param string
	recipients := s.reachable(req.Recipients)
	switch {
	case readErr != nil:
		code, desc, param = 21, "Bad request (body is not valid JSON)", ""
	case req.Originator == "":
		code, desc, param = 9, "originator is required", "originator"
	case req.Body == "":
		code, desc, param = 9, "body is required", "body"
	case len(recipients) == 0:
		code, desc, param = 9, "no (correct) recipients found", "recipients"
	}
	if code != 0 {
		s.count(func(c *Counts) { c.Rejected++ })
		writeError(w, http.StatusUnprocessableEntity, code, desc, param)
		return
	}

	now := time.Now().UTC()
	a := Accepted{
		Reference:  req.Reference,
		Originator: req.Originator,
		Recipients: recipients,
		Body:       req.Body,
		ReportURL:  req.ReportURL,
		DataCoding: req.DataCoding,
		ReceivedAt: now,
	}
	s.mu.Lock()
	a.ID = fmt.Sprintf("%016x%016x", s.rng.Uint64(), s.rng.Uint64())
	s.accepted = append(s.accepted, a)
	s.counts.Accepted++
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()

	writeJSON(w, http.StatusCreated, newMessage(a, r))
}

func (s *Server) authorized(r *http.Request) bool {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AccessKey ")
	return ok && key != "" && (s.key == "" || key == s.key)
}

// reachable keeps the well-formed recipients not on the reject list; like
// MessageBird, the message is refused only when none is left.
func (s *Server) reachable(numbers []any) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, v := range numbers {
		n := fmt.Sprint(v) // a string or a json.Number
		if _, err := strconv.ParseUint(n, 10, 64); err == nil && !s.reject[n] {
			out = append(out, n)
		}
	}
	return out
}

func (s *Server) count(f func(*Counts)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.counts)
}

// configRequest is the body of POST /_fake/config; absent fields keep their
// value.
type configRequest struct {
	LatencyMS        *int64   `json:"latency_ms"`
	FailRate         *float64 `json:"fail_rate"`
	TimeoutRate      *float64 `json:"timeout_rate"`
	FailNext         *int     `json:"fail_next"`
	RejectRecipients []string `json:"reject_recipients"` // null or absent: unchanged; []: none
}

func (s *Server) handleConfig(w http.ResponseWriter, r *http.Request) {
	var req configRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON: " + err.Error()})
		return
	}
	var errs []error
	for _, rate := range []*float64{req.FailRate, req.TimeoutRate} {
		if rate != nil {
			errs = append(errs, checkRate(*rate))
		}
	}
	if req.LatencyMS != nil && *req.LatencyMS < 0 {
		errs = append(errs, errors.New("latency_ms must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if req.LatencyMS != nil {
		s.SetLatency(time.Duration(*req.LatencyMS) * time.Millisecond)
	}
	if req.FailRate != nil {
		s.SetFailRate(*req.FailRate)
	}
	if req.TimeoutRate != nil {
		s.SetTimeoutRate(*req.TimeoutRate)
	}
	if req.FailNext != nil {
		s.FailNext(*req.FailNext)
	}
	if req.RejectRecipients != nil {
		s.SetRejectRecipients(req.RejectRecipients...)
	}
	w.WriteHeader(http.StatusNoContent)
}

func checkRate(f float64) error {
	if f < 0 || f > 1 {
		return fmt.Errorf("rate %v is not a fraction between 0 and 1", f)
	}
	return nil
}

// message is MessageBird's message object, as answered to POST /messages.
type message struct {
	ID              string     `json:"id"`
	HRef            string     `json:"href"`
	Direction       string     `json:"direction"`
	Type            string     `json:"type"`
	Originator      string     `json:"originator"`
	Body            string     `json:"body"`
	Reference       *string    `json:"reference"` // null when unset, as MessageBird does
	ReportURL       *string    `json:"reportUrl"`
	DataCoding      string     `json:"datacoding"`
	MClass          int        `json:"mclass"`
	CreatedDatetime time.Time  `json:"createdDatetime"`
	Recipients      recipients `json:"recipients"`
}

type recipients struct {
	TotalCount               int         `json:"totalCount"`
	TotalSentCount           int         `json:"totalSentCount"`
	TotalDeliveredCount      int         `json:"totalDeliveredCount"`
	TotalDeliveryFailedCount int         `json:"totalDeliveryFailedCount"`
	Items                    []recipient `json:"items"`
}

type recipient struct {
	Recipient        uint64    `json:"recipient"`
	Status           string    `json:"status"`
	StatusDatetime   time.Time `json:"statusDatetime"`
	MessagePartCount int       `json:"messagePartCount"`
}

func newMessage(a Accepted, r *http.Request) message {
	coding := cmp.Or(a.DataCoding, "plain")
	if coding == "auto" {
		coding = "plain"
		if strings.ContainsFunc(a.Body, func(r rune) bool { return r > 127 }) {
			coding = "unicode" // an approximation: the GSM alphabet is not ASCII
		}
	}
	m := message{
		ID:              a.ID,
		HRef:            "http://" + r.Host + "/messages/" + a.ID,
		Direction:       "mt",
		Type:            "sms",
		Originator:      a.Originator,
		Body:            a.Body,
		DataCoding:      coding,
		MClass:          1,
		CreatedDatetime: a.ReceivedAt.Truncate(time.Second), // MessageBird reports whole seconds
		Recipients:      recipients{TotalCount: len(a.Recipients), TotalSentCount: len(a.Recipients)},
	}
	if a.Reference != "" {
		m.Reference = &a.Reference
	}
	if a.ReportURL != "" {
		m.ReportURL = &a.ReportURL
	}
	parts := partCount(a.Body, coding)
	for _, n := range a.Recipients {
		num, _ := strconv.ParseUint(n, 10, 64) // checked in reachable
		m.Recipients.Items = append(m.Recipients.Items, recipient{
			Recipient: num, Status: "sent", StatusDatetime: a.ReceivedAt.Truncate(time.Second), MessagePartCount: parts,
		})
	}
	return m
}

// partCount is how many SMS a body takes: 160 characters fit in one plain
// message and 153 in each part of a longer one; 70 and 67 for unicode.
func partCount(body, coding string) int {
	single, part := 160, 153
	if coding == "unicode" {
		single, part = 70, 67
	}
	n := len([]rune(body))
	if n <= single {
		return 1
	}
	return (n + part - 1) / part
}

type apiError struct {
	Code        int    `json:"code"`
	Description string `json:"description"`
	Parameter   string `json:"parameter,omitempty"`
}

func writeError(w http.ResponseWriter, status, code int, desc, param string) {
	writeJSON(w, status, map[string][]apiError{"errors": {{Code: code, Description: desc, Parameter: param}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // fails only when the client has gone
}
