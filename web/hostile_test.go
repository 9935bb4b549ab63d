package web

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"birdcar/components"
	"birdcar/jobs/messagebird"
	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
)

// hostileItem is one hostile request and what BirdCar must make of it.
type hostileItem struct {
	name string
	// req builds the request when the item runs, so bodies, sessions and
	// signatures are fresh; raw is a request net/http would refuse to send.
	req func(t *testing.T) *http.Request
	raw string
	// want lists the statuses that are right; none means any 4xx.
	want []int
	// grows is how many rows the item may add, by table; all others stay.
	grows map[string]int64
	// signed runs the item with the signing key set.
	signed bool
	// check asserts more on the answer's body.
	check func(t *testing.T, body string)
}

// hostileTables are the tables a hostile request must not write to.
var hostileTables = []string{"messages", "calls", "customers", "drivers", "proxy_numbers", "rides"}

const (
	hostileKey       = "hostile-signing-key"
	hostilePublicURL = "https://birdcar.example.com"
	xss              = `<script>alert(1)</script>`
	sqlOr            = `' OR 1=1 --`
	sqlDrop          = `1; DROP TABLE messages; --`
	xmlMeta          = `]]><!-- &amp; & "/><Hangup/>`
)

// leaks are what an answer must never show: database errors, Go and
// parser error texts, stack traces, Fiber's default pages.
var leaks = regexp.MustCompile(`SQLSTATE|ERROR:|pgx|pgconn|goroutine \d|panic|runtime error|invalid character|unexpected EOF|strconv\.|json: |fasthttp|error when|\.go:\d|%!|<nil>|Cannot (GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS) `)

// TestHostileInputs throws a corpus of hostile requests at every public
// endpoint: each must get the right 4xx (or the answer its design gives)
// with a clear message, write nothing it should not, and leave the server
// serving.
func TestHostileInputs(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	b.srv.PublicURL = hostilePublicURL
	f := b.activeRide(t)
	for _, n := range []string{"+31970000090", "+31970000091", "+31970000092"} {
		b.Number(t, n, "NL")
	}
	items := b.hostileItems(t, f)
	if r := b.do(t, httptest.NewRequest("GET", "/healthz", nil)); r.StatusCode != 200 {
		t.Fatalf("GET /healthz before the corpus: %d", r.StatusCode)
	}
	tried, passed := 0, 0
	signing := false
	for _, it := range items {
		tried++
		// Signed items come last and share one key, so the replay guard
		// remembers what the earlier ones used.
		if it.signed != signing {
			b.srv.useSigningKey(map[bool]string{true: hostileKey}[it.signed])
			signing = it.signed
		}
		if t.Run(it.name, func(t *testing.T) { b.tryHostile(t, it) }) {
			passed++
		}
	}
	t.Logf("hostile inputs: %d tried, %d passed", tried, passed)
	if passed != tried {
		t.Errorf("%d hostile inputs failed", tried-passed)
	}
}

// tryHostile sends one item and checks the answer, the tables and that the
// server still serves.
func (b *testBundle) tryHostile(t *testing.T, it hostileItem) {
	// A savepoint per item (a transaction nested in the test's), so that a
	// database error an item provokes is reported against that item alone,
	// not every one after it.
	item, err := b.Rides.DB.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Keep the item's writes, or roll them back if a database error left
	// the transaction unusable (which the item has failed for).
	defer func() {
		ctx := context.WithoutCancel(t.Context())
		if status := item.Conn().PgConn().TxStatus(); status != 'T' {
			t.Errorf("the item left the transaction unusable (status %q)", status)
			// Rolling back to the savepoint releases it, too.
			if err := item.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err := item.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}()
	before := b.rowCounts(t)
	raw, csrf := it.raw, ""
	if raw == "" {
		req := it.req(t)
		raw, csrf = dumpRequest(t, req), b.sessionCSRF(t, req)
	}
	resp := b.rawHTTP(t, raw)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// The session's CSRF token is random base64url, so it may spell what
	// the leak check looks for (once it held "pgx"): the check reads the
	// page without it.
	scanned := body
	if csrf != "" {
		scanned = bytes.ReplaceAll(body, []byte(csrf), nil)
	}
	switch {
	case len(it.want) > 0 && !slices.Contains(it.want, resp.StatusCode):
		t.Errorf("status %d, want one of %v: %.300s", resp.StatusCode, it.want, body)
	case len(it.want) == 0 && (resp.StatusCode < 400 || resp.StatusCode >= 500):
		t.Errorf("status %d, want a 4xx: %.300s", resp.StatusCode, body)
	}
	if resp.StatusCode >= 400 {
		if msg := errorMessage(t, resp, body); msg == "" {
			t.Errorf("status %d without a message: %.300s", resp.StatusCode, body)
		}
	}
	if m := leaks.Find(scanned); m != nil {
		t.Errorf("the answer shows %q: %.500s", m, body)
	}
	if strings.Contains(resp.Header.Get("Content-Type"), "html") && bytes.Contains(body, []byte(xss)) {
		t.Errorf("the answer echoes a script unescaped")
	}
	if it.check != nil {
		it.check(t, string(body))
	}
	after := b.rowCounts(t)
	for _, table := range hostileTables {
		if got, want := after[table]-before[table], it.grows[table]; got != want {
			t.Errorf("%s: %+d rows, want %+d", table, got, want)
		}
	}
	if r := b.do(t, httptest.NewRequest("GET", "/healthz", nil)); r.StatusCode != 200 {
		t.Fatalf("GET /healthz after the item: %d", r.StatusCode)
	}
}

// dumpRequest writes req as it goes on the wire, with a Content-Length
// as app.Test adds it.
func dumpRequest(t *testing.T, req *http.Request) string {
	t.Helper()
	if req.Body != nil && req.Body != http.NoBody && req.Header.Get("Content-Length") == "" {
		req.Header.Set("Content-Length", strconv.FormatInt(req.ContentLength, 10))
	}
	raw, err := httputil.DumpRequest(req, true)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// errorMessage is the message an error answer shows a person: a problem
// document's detail, an HTML alert's text, or a plain body.
func errorMessage(t *testing.T, resp *http.Response, body []byte) string {
	t.Helper()
	ct := resp.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/problem+json"):
		var p problem
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("problem document: %v", err)
		}
		return p.Detail
	case strings.HasPrefix(ct, "text/html"):
		doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(doc.Find(`[role="alert"]`).Text())
	}
	return strings.TrimSpace(string(body))
}

// rowCounts counts the rows of hostileTables.
func (b *testBundle) rowCounts(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range hostileTables {
		out[table] = dbtest.Rows(t, b.Rides.DB, table)
	}
	return out
}

// rawHTTP serves one request written byte for byte: what net/http sends,
// and what it will not (malformed request lines, headers and lengths).
func (b *testBundle) rawHTTP(t *testing.T, raw string) *http.Response {
	t.Helper()
	conn := &rawConn{in: strings.NewReader(raw)}
	b.srv.App().Handler() // builds the route tree, as app.Test does
	// ServeConn errs for a request it refused; the answer it wrote is what counts.
	_ = b.srv.App().Server().ServeConn(conn)
	// Skip interim answers (an injected "Expect: 100-continue" asks for one).
	out := bufio.NewReader(&conn.out)
	resp, err := http.ReadResponse(out, nil)
	for err == nil && resp.StatusCode < 200 {
		resp, err = http.ReadResponse(out, nil)
	}
	if err != nil {
		t.Fatalf("no HTTP answer (%v): %q", err, conn.out.String())
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// rawConn is a connection that reads a fixed request and records the answer.
type rawConn struct {
	net.Conn
	in  io.Reader
	out bytes.Buffer
}

func (c *rawConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *rawConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *rawConn) Close() error                     { return nil }
func (c *rawConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }
func (c *rawConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000} }
func (c *rawConn) SetDeadline(time.Time) error      { return nil }
func (c *rawConn) SetReadDeadline(time.Time) error  { return nil }
func (c *rawConn) SetWriteDeadline(time.Time) error { return nil }

// anon is a request from anyone: no session, no token.
func anon(method, target, contentType, body string) func(*testing.T) *http.Request {
	return func(*testing.T) *http.Request {
		var in io.Reader
		if body != "" {
			in = strings.NewReader(body)
		}
		req := httptest.NewRequest(method, target, in)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		return req
	}
}

// withHeader adds a header to the requests build makes.
func withHeader(build func(*testing.T) *http.Request, key, value string) func(*testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		req := build(t)
		req.Header.Set(key, value)
		return req
	}
}

// withoutHeader removes a header from the requests build makes.
func withoutHeader(build func(*testing.T) *http.Request, key string) func(*testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		req := build(t)
		req.Header.Del(key)
		return req
	}
}

// apiReq is a JSON API request with a valid token.
func apiReq(method, target, contentType, body string) func(*testing.T) *http.Request {
	return withHeader(anon(method, target, contentType, body), "Authorization", "Bearer "+testToken)
}

// sessionCSRF is the CSRF token of the session req signs in with, if it
// has one that is live: the token its pages carry.
func (b *testBundle) sessionCSRF(t *testing.T, req *http.Request) string {
	cookie, err := req.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	sess, ok, err := b.srv.Admin.Session(t.Context(), cookie.Value)
	if err != nil || !ok {
		return ""
	}
	return sess.CSRFToken
}

// consoleReq is a signed-in console request with the session's CSRF token.
func (b *testBundle) consoleReq(method, target, contentType, body string) func(*testing.T) *http.Request {
	build := anon(method, target, contentType, body)
	return func(t *testing.T) *http.Request { return b.signIn(t, build(t)) }
}

// loginReq is a login form post as a browser on this site sends it.
func loginReq(contentType, body string) func(*testing.T) *http.Request {
	return withHeader(anon("POST", "/login", contentType, body), "Sec-Fetch-Site", "same-origin")
}

// signedReq signs what build makes the way MessageBird does, at run time.
func signedReq(build func(*testing.T) *http.Request) func(*testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		req := build(t)
		req.Header.Set(messagebird.SignatureHeader, signRequest(t, hostileKey, req, time.Now()))
		return req
	}
}

// signRequest signs req's URL and body, keeping its body readable.
func signRequest(t *testing.T, key string, req *http.Request, now time.Time) string {
	t.Helper()
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			t.Fatal(err)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	return messagebird.Sign(key, hostilePublicURL+req.URL.RequestURI(), body, now)
}

// forgedToken is a JWT with the given header algorithm and claims, signed
// with key (HS256) or not at all (alg "none").
func forgedToken(alg, key string, claims map[string]any) string {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	payload, _ := json.Marshal(claims)
	unsigned := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	if alg == "none" {
		return unsigned + "."
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

func sha256Hex(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// gzipBomb is a small gzip body that inflates to n zero bytes.
func gzipBomb(n int) string {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(make([]byte, n))
	w.Close()
	return buf.String()
}

// contains checks that the answer holds each of parts.
func contains(parts ...string) func(*testing.T, string) {
	return func(t *testing.T, body string) {
		for _, p := range parts {
			if !strings.Contains(body, p) {
				t.Errorf("the answer lacks %q: %.300s", p, body)
			}
		}
	}
}

// expectStored checks that a hostile value was stored verbatim: stored
// reads what the domain holds, and exactly one of its values must be value.
func expectStored(value string, stored func(*testing.T) ([]string, error)) func(*testing.T, string) {
	return func(t *testing.T, _ string) {
		values, err := stored(t)
		n := 0
		for _, v := range values {
			if v == value {
				n++
			}
		}
		if err != nil || n != 1 {
			t.Errorf("%q stored %d times (%v), want once, verbatim", value, n, err)
		}
	}
}

// names reads the names of everyone of a role.
func (b *testBundle) names(role ride.Role) func(*testing.T) ([]string, error) {
	return func(t *testing.T) ([]string, error) {
		people, err := b.Rides.People(t.Context(), role, "", 10_000)
		var out []string
		for _, p := range people {
			out = append(out, p.Name)
		}
		return out, err
	}
}

// destinations reads the destinations of every ride.
func (b *testBundle) destinations(t *testing.T) ([]string, error) {
	rides, err := b.Rides.ListRides(t.Context(), ride.RideFilter{Limit: 10_000})
	var out []string
	for _, r := range rides {
		out = append(out, r.Destination)
	}
	return out, err
}

// outboundBodies reads the bodies of the newest outbound messages, among
// which must be the forward of the text MessageBird gave receivedID.
func (b *testBundle) outboundBodies(receivedID string) func(*testing.T) ([]string, error) {
	return func(t *testing.T) ([]string, error) {
		fwd, err := b.Rides.ForwardOf(t.Context(), receivedID)
		if err != nil || fwd == nil {
			return nil, fmt.Errorf("no forward of the text %q (%v)", receivedID, err)
		}
		outbox, err := b.Rides.Outbox(t.Context())
		if err != nil {
			return nil, err
		}
		var out []string
		found := false
		for _, m := range outbox {
			found = found || m.ID == fwd.ID
			out = append(out, m.Body)
		}
		if !found {
			return nil, fmt.Errorf("the forward %d is not in the outbox", fwd.ID)
		}
		return out, nil
	}
}

const (
	formCT = "application/x-www-form-urlencoded"
	jsonCT = "application/json"
)

var (
	only405    = []int{405}
	notAllowed = []int{404, 405}
)

// hostileItems is the corpus, built around an active ride f.
func (b *testBundle) hostileItems(t *testing.T, f rideFixture) []hostileItem {
	cust, proxy := digits(f.customer.Phone), digits(f.ride.ProxyNumber)
	rideID := itoa(f.ride.ID)
	notes := b.rideMessages(t, f.ride, func(m ride.Message) bool { return m.Kind == ride.KindNotification })
	if len(notes) == 0 {
		t.Fatalf("the ride has no notifications")
	}
	outboundID := itoa(notes[0].ID)
	var proxyID int64
	numbers, err := b.Rides.Numbers(t.Context())
	for _, n := range numbers {
		if n.Number == f.ride.ProxyNumber {
			proxyID = n.ID
		}
	}
	if err != nil || proxyID == 0 {
		t.Fatalf("the ride's number %s among %+v: %v", f.ride.ProxyNumber, numbers, err)
	}

	// sms is a valid inbound SMS form with some fields changed ("" drops one).
	sms := func(kv ...string) string {
		v := url.Values{"id": {"mb-1"}, "originator": {cust}, "recipient": {proxy}, "payload": {"hello"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v.Encode()
	}
	voice := func(kv ...string) string {
		v := url.Values{"source": {cust}, "destination": {proxy}, "callID": {"call-1"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return "/webhook-voice?" + v.Encode()
	}
	rideJSON := func(kv ...any) string {
		m := map[string]any{"customer_id": f.customer.ID, "driver_id": f.driver.ID, "start": "Dam 1",
			"destination": "Schiphol", "pickup_at": "2026-05-01T14:30:00+02:00"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		out, _ := json.Marshal(m)
		return string(out)
	}
	rideForm := func(kv ...string) string {
		v := url.Values{"customer_id": {itoa(f.customer.ID)}, "driver_id": {itoa(f.driver.ID)}, "start": {"Dam 1"},
			"destination": {"Schiphol"}, "pickup_at": {"2026-05-01T14:30"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	rideGrows := map[string]int64{"rides": 1, "messages": 2}
	big := func(n int) string { return strings.Repeat("a", n) }

	var items []hostileItem
	add := func(it ...hostileItem) { items = append(items, it...) }

	// --- POST /webhook: inbound SMS, form and JSON.
	add(
		hostileItem{name: "sms/malformed form", req: anon("POST", "/webhook", formCT, "%%%&&&==&=%zz"), want: []int{400}},
		hostileItem{name: "sms/no id", req: anon("POST", "/webhook", formCT, sms("id", "")), want: []int{400}},
		hostileItem{name: "sms/no originator", req: anon("POST", "/webhook", formCT, sms("originator", "")), want: []int{400}},
		hostileItem{name: "sms/no recipient", req: anon("POST", "/webhook", formCT, sms("recipient", "")), want: []int{400}},
		hostileItem{name: "sms/no payload", req: anon("POST", "/webhook", formCT, sms("payload", "")), want: []int{400}},
		hostileItem{name: "sms/empty body", req: anon("POST", "/webhook", formCT, ""), want: []int{400}},
		hostileItem{name: "sms/doubled id, first empty", req: anon("POST", "/webhook", formCT, "id=&"+sms("id", "")+"&id=mb-x"), want: []int{400}},
		hostileItem{name: "sms/doubled originator, first hostile", req: anon("POST", "/webhook", formCT,
			"originator="+url.QueryEscape(sqlOr)+"&"+sms()), want: []int{400}},
		hostileItem{name: "sms/NUL in id", req: anon("POST", "/webhook", formCT, sms("id", "mb\x00x")), want: []int{400}},
		hostileItem{name: "sms/NUL in payload", req: anon("POST", "/webhook", formCT, sms("payload", "hi\x00")), want: []int{400}},
		hostileItem{name: "sms/invalid UTF-8 id", req: anon("POST", "/webhook", formCT, sms("id", "")+"&id=%ff%fe"), want: []int{400}},
		hostileItem{name: "sms/invalid UTF-8 payload", req: anon("POST", "/webhook", formCT, sms("payload", "")+"&payload=%c3%28"), want: []int{400}},
		hostileItem{name: "sms/id too long", req: anon("POST", "/webhook", formCT, sms("id", big(101))), want: []int{400}},
		hostileItem{name: "sms/letters in originator", req: anon("POST", "/webhook", formCT, sms("originator", cust+"abc")), want: []int{400}},
		hostileItem{name: "sms/letters in recipient", req: anon("POST", "/webhook", formCT, sms("recipient", "0800-FLOWERS")), want: []int{400}},
		hostileItem{name: "sms/SQL in originator", req: anon("POST", "/webhook", formCT, sms("originator", sqlOr)), want: []int{400}},
		hostileItem{name: "sms/SQL in recipient", req: anon("POST", "/webhook", formCT, sms("recipient", sqlDrop)), want: []int{400}},
		hostileItem{name: "sms/HTML in originator", req: anon("POST", "/webhook", formCT, sms("originator", xss)), want: []int{400}},
		hostileItem{name: "sms/XML in recipient", req: anon("POST", "/webhook", formCT, sms("recipient", xmlMeta)), want: []int{400}},
		hostileItem{name: "sms/SQL and HTML in text and id are stored verbatim",
			req:  anon("POST", "/webhook", formCT, sms("id", sqlDrop, "payload", sqlOr+xss+xmlMeta)),
			want: []int{200}, grows: map[string]int64{"messages": 2},
			check: expectStored(sqlOr+xss+xmlMeta, b.outboundBodies(sqlDrop))},
		hostileItem{name: "sms/the same id again records nothing", req: anon("POST", "/webhook", formCT, sms("id", sqlDrop, "payload", "again")), want: []int{200}},
		hostileItem{name: "sms/too large", req: anon("POST", "/webhook", formCT, sms("payload", big(65<<10))), want: []int{413}},
		hostileItem{name: "sms/over the app's limit", req: anon("POST", "/webhook", formCT, sms("payload", big(1<<20+1))), want: []int{413}},
		hostileItem{name: "sms/text/plain", req: anon("POST", "/webhook", "text/plain", sms()), want: []int{415}},
		hostileItem{name: "sms/text/xml", req: anon("POST", "/webhook", "text/xml", "<sms><id>1</id></sms>"), want: []int{415}},
		hostileItem{name: "sms/multipart", req: anon("POST", "/webhook", "multipart/form-data; boundary=x", "--x\r\n\r\n--x--"), want: []int{415}},
		hostileItem{name: "sms/no content type", req: anon("POST", "/webhook", "", sms()), want: []int{415}},
		hostileItem{name: "sms/gzip bomb", req: withHeader(anon("POST", "/webhook", jsonCT, gzipBomb(64<<20)), "Content-Encoding", "gzip"), want: []int{415}},
		hostileItem{name: "sms/gzip garbage", req: withHeader(anon("POST", "/webhook", formCT, sms()), "Content-Encoding", "gzip"), want: []int{415}},
		hostileItem{name: "sms/json malformed", req: anon("POST", "/webhook", jsonCT, `{"id":`), want: []int{400}},
		hostileItem{name: "sms/json truncated", req: anon("POST", "/webhook", jsonCT, `{"id":"mb-2","originator":"`+cust+`","recipient":"`+proxy+`","payload":"hel`), want: []int{400}},
		hostileItem{name: "sms/json array", req: anon("POST", "/webhook", jsonCT, `[{"id":"mb-2"}]`), want: []int{400}},
		hostileItem{name: "sms/json null", req: anon("POST", "/webhook", jsonCT, `null`), want: []int{400}},
		hostileItem{name: "sms/json string", req: anon("POST", "/webhook", jsonCT, `"id=1"`), want: []int{400}},
		hostileItem{name: "sms/json wrong types", req: anon("POST", "/webhook", jsonCT, `{"id":["x"],"originator":{"a":1},"recipient":null,"payload":true}`), want: []int{400}},
		hostileItem{name: "sms/json NUL in payload", req: anon("POST", "/webhook", jsonCT, `{"id":"mb-3","originator":"`+cust+`","recipient":"`+proxy+`","payload":"a\u0000b"}`), want: []int{400}},
		hostileItem{name: "sms/json NUL in id", req: anon("POST", "/webhook", jsonCT, `{"id":"mb\u0000","originator":"`+cust+`","recipient":"`+proxy+`","payload":"hi"}`), want: []int{400}},
		hostileItem{name: "sms/json invalid UTF-8", req: anon("POST", "/webhook", jsonCT, "{\"id\":\"mb-4\",\"originator\":\""+cust+"\",\"recipient\":\""+proxy+"\",\"payload\":\"\xff\xfe\"}"), want: []int{400}},
		hostileItem{name: "sms/json number with letters", req: anon("POST", "/webhook", jsonCT, `{"id":"mb-5","originator":"31CALLME","recipient":"`+proxy+`","payload":"hi"}`), want: []int{400}},
		hostileItem{name: "sms/json huge number", req: anon("POST", "/webhook", jsonCT, `{"id":"mb-6","originator":1e400,"recipient":"`+proxy+`","payload":"hi"}`), want: []int{400}},
		hostileItem{name: "sms/json deep nesting", req: anon("POST", "/webhook", jsonCT, strings.Repeat("[", 20000)+strings.Repeat("]", 20000)), want: []int{400}},
	)
	for _, m := range []string{"GET", "PUT", "DELETE", "PATCH"} {
		add(hostileItem{name: "sms/method " + m, req: anon(m, "/webhook", formCT, sms()), want: only405})
	}

	// --- GET /webhook-voice: every call gets XML and is recorded, by design.
	call := map[string]int64{"calls": 1}
	isSay := func(t *testing.T, body string) {
		if !strings.Contains(body, "<Say ") || strings.Contains(body, "<Hangup/>") {
			t.Errorf("want an apology and no injected element: %s", body)
		}
	}
	add(
		hostileItem{name: "voice/SQL in source", req: anon("GET", voice("source", sqlOr), "", ""), want: []int{200}, grows: call, check: isSay},
		hostileItem{name: "voice/SQL in destination", req: anon("GET", voice("destination", sqlDrop), "", ""), want: []int{200}, grows: call, check: isSay},
		hostileItem{name: "voice/XML in source", req: anon("GET", voice("source", xmlMeta), "", ""), want: []int{200}, grows: call, check: isSay},
		hostileItem{name: "voice/HTML in callID", req: anon("GET", voice("source", "Restricted", "callID", xss), "", ""), want: []int{200}, grows: call, check: isSay},
		hostileItem{name: "voice/NUL and invalid UTF-8", req: anon("GET", "/webhook-voice?source=%00"+cust+"&destination=%ff"+proxy+"&callID=%00%ff", "", ""), want: []int{200}, grows: call, check: isSay},
		hostileItem{name: "voice/letters in number", req: anon("GET", voice("source", cust+"x"), "", ""), want: []int{200}, grows: call, check: isSay},
		hostileItem{name: "voice/no parameters", req: anon("GET", "/webhook-voice", "", ""), want: []int{200}, grows: call, check: isSay},
		hostileItem{name: "voice/doubled source, first hostile", req: anon("GET", "/webhook-voice?source="+url.QueryEscape(xmlMeta)+"&"+strings.TrimPrefix(voice(), "/webhook-voice?"), "", ""),
			want: []int{200}, grows: call, check: isSay},
		hostileItem{name: "voice/huge query", raw: "GET /webhook-voice?callID=" + big(8<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{414, 431}},
		hostileItem{name: "voice/body too large", req: anon("GET", voice(), formCT, big(65<<10)), want: []int{413}},
	)
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		add(hostileItem{name: "voice/method " + m, req: anon(m, voice(), formCT, "a=b"), want: only405})
	}

	// --- /webhook-status: a report that names nothing is acknowledged and
	// ignored, by design, so MessageBird stops retrying it.
	report := func(kv ...string) string {
		v := url.Values{"id": {"mb-out"}, "reference": {outboundID}, "status": {"delivered"}, "statusDatetime": {"2026-05-01T12:00:05Z"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	for _, m := range []string{"GET", "POST"} {
		st := func(q string) func(*testing.T) *http.Request {
			if m == "GET" {
				return anon("GET", "/webhook-status?"+q, "", "")
			}
			return anon("POST", "/webhook-status", formCT, q)
		}
		add(
			hostileItem{name: m + " status/SQL in reference", req: st(report("reference", sqlOr)), want: []int{200}},
			hostileItem{name: m + " status/SQL in status", req: st(report("status", sqlDrop)), want: []int{200}},
			hostileItem{name: m + " status/reference overflows", req: st(report("reference", "99999999999999999999")), want: []int{200}},
			hostileItem{name: m + " status/negative reference", req: st(report("reference", "-1")), want: []int{200}},
			hostileItem{name: m + " status/HTML and NUL in reason", req: st(report("status", "delivery_failed", "statusReason", xss+"\x00\xff", "statusErrorCode", sqlOr)), want: []int{200}},
			hostileItem{name: m + " status/garbage time", req: st(report("statusDatetime", xmlMeta)), want: []int{200}},
			hostileItem{name: m + " status/no parameters", req: st(""), want: []int{200}},
		)
	}
	add(
		hostileItem{name: "status/json body", req: anon("POST", "/webhook-status", jsonCT, `{"reference":`+outboundID+`,"status":"delivered"}`), want: []int{200}},
		hostileItem{name: "status/too large", req: anon("POST", "/webhook-status", formCT, report("statusReason", big(65<<10))), want: []int{413}},
	)
	for _, m := range []string{"PUT", "DELETE", "PATCH"} {
		add(hostileItem{name: "status/method " + m, req: anon(m, "/webhook-status?"+report(), "", ""), want: only405})
	}

	// --- The JSON API.
	for _, role := range []string{"customers", "drivers"} {
		path := "/api/v1/" + role
		table, person := role, ride.Role(strings.TrimSuffix(role, "s"))
		add(
			hostileItem{name: role + "/malformed JSON", req: apiReq("POST", path, jsonCT, `{"name":`), want: []int{400}},
			hostileItem{name: role + "/truncated JSON", req: apiReq("POST", path, jsonCT, `{"name":"Eve","phone":"3161`), want: []int{400}},
			hostileItem{name: role + "/trailing JSON", req: apiReq("POST", path, jsonCT, `{"name":"Eve","phone":"31633333333"} {"name":"Mallory"}`), want: []int{400}},
			hostileItem{name: role + "/array", req: apiReq("POST", path, jsonCT, `[{"name":"Eve","phone":"31633333333"}]`), want: []int{400}},
			hostileItem{name: role + "/null", req: apiReq("POST", path, jsonCT, `null`), want: []int{400}},
			hostileItem{name: role + "/string", req: apiReq("POST", path, jsonCT, `"Eve"`), want: []int{400}},
			hostileItem{name: role + "/empty object", req: apiReq("POST", path, jsonCT, `{}`), want: []int{422}},
			hostileItem{name: role + "/empty body", req: apiReq("POST", path, jsonCT, ``), want: []int{400}},
			hostileItem{name: role + "/wrong types", req: apiReq("POST", path, jsonCT, `{"name":1,"phone":["31633333333"]}`), want: []int{422},
				check: contains(`"field":"name"`, "must be a string")},
			hostileItem{name: role + "/letters in phone", req: apiReq("POST", path, jsonCT, `{"name":"Eve","phone":"+31 6 CALL ME"}`), want: []int{422}},
			hostileItem{name: role + "/SQL in phone", req: apiReq("POST", path, jsonCT, mustJSON(t, map[string]string{"name": "Eve", "phone": sqlOr})), want: []int{422}},
			hostileItem{name: role + "/doubled phone, last hostile", req: apiReq("POST", path, jsonCT, `{"name":"Eve","phone":"31633333333","phone":"; DROP TABLE customers"}`), want: []int{422}},
			hostileItem{name: role + "/NUL in name", req: apiReq("POST", path, jsonCT, `{"name":"Eve\u0000","phone":"31633333333"}`), want: []int{422}},
			hostileItem{name: role + "/control characters in name", req: apiReq("POST", path, jsonCT, `{"name":"Eve\u001b[31m\r\nBob","phone":"31633333333"}`), want: []int{422}},
			hostileItem{name: role + "/invalid UTF-8", req: apiReq("POST", path, jsonCT, "{\"name\":\"Eve\xff\",\"phone\":\"31633333333\"}"), want: []int{400}},
			hostileItem{name: role + "/name too long", req: apiReq("POST", path, jsonCT, mustJSON(t, map[string]string{"name": big(201), "phone": "31633333333"})), want: []int{422}},
			hostileItem{name: role + "/too large", req: apiReq("POST", path, jsonCT, mustJSON(t, map[string]string{"name": big(65 << 10), "phone": "31633333333"})), want: []int{413}},
			hostileItem{name: role + "/form body", req: apiReq("POST", path, formCT, "name=Eve&phone=31633333333"), want: []int{415}},
			hostileItem{name: role + "/no content type", req: apiReq("POST", path, "", `{"name":"Eve","phone":"31633333333"}`), want: []int{415}},
			hostileItem{name: role + "/gzip", req: withHeader(apiReq("POST", path, jsonCT, gzipBomb(1<<20)), "Content-Encoding", "gzip"), want: []int{415}},
			hostileItem{name: role + "/no token", req: anon("POST", path, jsonCT, `{"name":"Eve","phone":"31633333333"}`), want: []int{401}},
			hostileItem{name: role + "/wrong token", req: withHeader(anon("POST", path, jsonCT, `{"name":"Eve","phone":"31633333333"}`), "Authorization", "Bearer "+sqlOr), want: []int{401}},
			hostileItem{name: role + "/SQL and HTML in name are stored verbatim",
				req:  apiReq("POST", path, jsonCT, mustJSON(t, map[string]string{"name": "Robert'); DROP TABLE " + table + ";-- " + xss, "phone": "31644444444"})),
				want: []int{201}, grows: map[string]int64{table: 1},
				check: expectStored("Robert'); DROP TABLE "+table+";-- "+xss, b.names(person))},
			hostileItem{name: role + "/duplicate phone", req: apiReq("POST", path, jsonCT, `{"name":"Eve","phone":"31644444444"}`), want: []int{409}},
		)
		for _, m := range []string{"PUT", "DELETE"} {
			add(hostileItem{name: role + "/method " + m, req: apiReq(m, path, jsonCT, `{}`), want: notAllowed})
		}
	}
	add(
		hostileItem{name: "numbers/SQL in number", req: apiReq("POST", "/api/v1/numbers", jsonCT, mustJSON(t, map[string]string{"number": sqlOr})), want: []int{422}},
		hostileItem{name: "numbers/letters in number", req: apiReq("POST", "/api/v1/numbers", jsonCT, `{"number":"3197ABCDEFGH"}`), want: []int{422}},
		hostileItem{name: "numbers/HTML in country", req: apiReq("POST", "/api/v1/numbers", jsonCT, mustJSON(t, map[string]string{"number": "31970000093", "country": xss})), want: []int{422}},
		hostileItem{name: "numbers/NUL in country", req: apiReq("POST", "/api/v1/numbers", jsonCT, `{"number":"31970000093","country":"N\u0000"}`), want: []int{422}},
		hostileItem{name: "numbers/number as a JSON number", req: apiReq("POST", "/api/v1/numbers", jsonCT, `{"number":31970000093}`), want: []int{422},
			check: contains(`"field":"number"`)},
		hostileItem{name: "numbers/null", req: apiReq("POST", "/api/v1/numbers", jsonCT, `null`), want: []int{400}},
		hostileItem{name: "numbers/array", req: apiReq("POST", "/api/v1/numbers", jsonCT, `["31970000093"]`), want: []int{400}},
		hostileItem{name: "numbers/too large", req: apiReq("POST", "/api/v1/numbers", jsonCT, `{"number":"31970000093","pad":"`+big(65<<10)+`"}`), want: []int{413}},
		hostileItem{name: "numbers/duplicate", req: apiReq("POST", "/api/v1/numbers", jsonCT, `{"number":"`+proxy+`"}`), want: []int{409}},
	)
	for _, m := range []string{"PUT", "DELETE", "PATCH"} {
		add(hostileItem{name: "numbers/method " + m, req: apiReq(m, "/api/v1/numbers", jsonCT, `{}`), want: notAllowed})
	}
	add(
		hostileItem{name: "rides/malformed JSON", req: apiReq("POST", "/api/v1/rides", jsonCT, `{"customer_id":`), want: []int{400}},
		hostileItem{name: "rides/truncated JSON", req: apiReq("POST", "/api/v1/rides", jsonCT, rideJSON()[:40]), want: []int{400}},
		hostileItem{name: "rides/array", req: apiReq("POST", "/api/v1/rides", jsonCT, "["+rideJSON()+"]"), want: []int{400}},
		hostileItem{name: "rides/null", req: apiReq("POST", "/api/v1/rides", jsonCT, `null`), want: []int{400}},
		hostileItem{name: "rides/empty object", req: apiReq("POST", "/api/v1/rides", jsonCT, `{}`), want: []int{422}},
		hostileItem{name: "rides/id as a string", req: apiReq("POST", "/api/v1/rides", jsonCT, rideJSON("customer_id", itoa(f.customer.ID))), want: []int{422},
			check: contains(`"field":"customer_id"`, "must be a whole number")},
		hostileItem{name: "rides/id as a fraction", req: apiReq("POST", "/api/v1/rides", jsonCT, rideJSON("customer_id", 1.5)), want: []int{422}},
		hostileItem{name: "rides/id overflows", req: apiReq("POST", "/api/v1/rides", jsonCT, rideJSON("driver_id", 1e30)), want: []int{422}},
		hostileItem{name: "rides/negative id", req: apiReq("POST", "/api/v1/rides", jsonCT, rideJSON("customer_id", -1)), want: []int{422}},
		hostileItem{name: "rides/SQL in id", req: apiReq("POST", "/api/v1/rides", jsonCT, rideJSON("customer_id", sqlOr)), want: []int{422}},
		hostileItem{name: "rides/object as start", req: apiReq("POST", "/api/v1/rides", jsonCT, rideJSON("start", map[string]any{"$ne": 1})), want: []int{422}},
		hostileItem{name: "rides/no pickup", req: apiReq("POST", "/api/v1/rides", jsonCT, rideJSON("pickup_at", "")), want: []int{422}},
		hostileItem{name: "rides/garbage pickup", req: apiReq("POST", "/api/v1/rides", jsonCT, rideJSON("pickup_at", sqlOr)), want: []int{422}},
		hostileItem{name: "rides/NUL in start", req: apiReq("POST", "/api/v1/rides", jsonCT, rideJSON("start", "Dam\x001")), want: []int{422}},
		hostileItem{name: "rides/control characters in destination", req: apiReq("POST", "/api/v1/rides", jsonCT, rideJSON("destination", "Schiphol\r\nReply STOP")), want: []int{422}},
		hostileItem{name: "rides/invalid UTF-8", req: apiReq("POST", "/api/v1/rides", jsonCT, strings.Replace(rideJSON(), "Dam 1", "Dam \xff", 1)), want: []int{400}},
		hostileItem{name: "rides/start too long", req: apiReq("POST", "/api/v1/rides", jsonCT, rideJSON("start", big(201))), want: []int{422}},
		hostileItem{name: "rides/too large", req: apiReq("POST", "/api/v1/rides", jsonCT, rideJSON("start", big(65<<10))), want: []int{413}},
		hostileItem{name: "rides/idempotency key too long", req: withHeader(apiReq("POST", "/api/v1/rides", jsonCT, rideJSON()), "Idempotency-Key", big(201)), want: []int{422}},
		hostileItem{name: "rides/idempotency key invalid UTF-8", req: withHeader(apiReq("POST", "/api/v1/rides", jsonCT, rideJSON()), "Idempotency-Key", "k\xff\xfe"), want: []int{422}},
		hostileItem{name: "rides/idempotency key with control characters", req: withHeader(apiReq("POST", "/api/v1/rides", jsonCT, rideJSON()), "Idempotency-Key", "k\x01\x7f"), want: []int{422}},
		hostileItem{name: "rides/form body", req: apiReq("POST", "/api/v1/rides", formCT, "customer_id=1&driver_id=2"), want: []int{415}},
		hostileItem{name: "rides/SQL and HTML in addresses are stored verbatim",
			req:  apiReq("POST", "/api/v1/rides", jsonCT, rideJSON("start", sqlDrop, "destination", xss+xmlMeta)),
			want: []int{201}, grows: rideGrows,
			check: expectStored(xss+xmlMeta, b.destinations)},
	)
	for _, id := range []string{"abc", "0", "-1", "99999999999999999999", url.PathEscape(sqlOr), "%00", "1.5", "1e3", url.PathEscape(xss)} {
		add(
			hostileItem{name: "ride/" + id, req: apiReq("GET", "/api/v1/rides/"+id, "", ""), want: []int{404}},
			hostileItem{name: "ride/" + id + "/messages", req: apiReq("GET", "/api/v1/rides/"+id+"/messages", "", ""), want: []int{404}},
			hostileItem{name: "ride/" + id + "/end", req: apiReq("POST", "/api/v1/rides/"+id+"/end", "", ""), want: []int{404}},
		)
	}
	stillActive := func(t *testing.T, _ string) {
		if r, err := b.Rides.Ride(t.Context(), f.ride.ID); err != nil || r.Status != ride.RideActive {
			t.Errorf("ride %s after a refused end: %q, %v", rideID, r.Status, err)
		}
	}
	add(
		hostileItem{name: "ride end/SQL in status", req: apiReq("POST", "/api/v1/rides/"+rideID+"/end", jsonCT, mustJSON(t, map[string]string{"status": sqlOr})), want: []int{422}, check: stillActive},
		hostileItem{name: "ride end/status as a number", req: apiReq("POST", "/api/v1/rides/"+rideID+"/end", jsonCT, `{"status":1}`), want: []int{422},
			check: contains(`"field":"status"`)},
		hostileItem{name: "ride end/null", req: apiReq("POST", "/api/v1/rides/"+rideID+"/end", jsonCT, `null`), want: []int{400}, check: stillActive},
		hostileItem{name: "ride end/array", req: apiReq("POST", "/api/v1/rides/"+rideID+"/end", jsonCT, `["cancelled"]`), want: []int{400}, check: stillActive},
		hostileItem{name: "ride end/text body", req: apiReq("POST", "/api/v1/rides/"+rideID+"/end", "text/plain", `cancelled`), want: []int{415}, check: stillActive},
	)
	for _, m := range []string{"PUT", "DELETE", "PATCH"} {
		add(
			hostileItem{name: "rides/method " + m, req: apiReq(m, "/api/v1/rides", jsonCT, rideJSON()), want: notAllowed},
			hostileItem{name: "ride/method " + m, req: apiReq(m, "/api/v1/rides/"+rideID, jsonCT, `{}`), want: notAllowed, check: stillActive},
			hostileItem{name: "ride end/method " + m, req: apiReq(m, "/api/v1/rides/"+rideID+"/end", jsonCT, `{}`), want: notAllowed, check: stillActive},
		)
	}

	// --- POST /login.
	login := func(user, password string) string {
		return url.Values{"user": {user}, "password": {password}, "next": {"/"}}.Encode()
	}
	add(
		hostileItem{name: "login/no origin", req: anon("POST", "/login", formCT, login(testAdminUser, testAdminPassword)), want: []int{403}},
		hostileItem{name: "login/cross-site", req: withHeader(anon("POST", "/login", formCT, login(testAdminUser, testAdminPassword)), "Sec-Fetch-Site", "cross-site"), want: []int{403}},
		hostileItem{name: "login/forged origin", req: withHeader(anon("POST", "/login", formCT, login(testAdminUser, testAdminPassword)), "Origin", "https://evil.example"), want: []int{403}},
		hostileItem{name: "login/SQL in user", req: loginReq(formCT, login(sqlOr, sqlOr)), want: []int{401}},
		hostileItem{name: "login/HTML in user", req: loginReq(formCT, login(xss, "x")), want: []int{401}},
		hostileItem{name: "login/NUL and invalid UTF-8", req: loginReq(formCT, "user=admin%00%ff&password=%00"), want: []int{401}},
		hostileItem{name: "login/doubled user", req: loginReq(formCT, "user=&"+login(testAdminUser, "guess")), want: []int{401}},
		hostileItem{name: "login/JSON body", req: loginReq(jsonCT, mustJSON(t, map[string]string{"user": testAdminUser, "password": testAdminPassword})), want: []int{401, 429}},
		hostileItem{name: "login/malformed form", req: loginReq(formCT, "%%%&&&"), want: []int{401, 429}},
		hostileItem{name: "login/too large", req: loginReq(formCT, login(testAdminUser, big(8<<10))), want: []int{413}},
	)
	for _, m := range []string{"PUT", "DELETE", "PATCH"} {
		add(hostileItem{name: "login/method " + m, want: only405,
			req: withHeader(anon(m, "/login", formCT, login(testAdminUser, testAdminPassword)), "Sec-Fetch-Site", "same-origin")})
	}

	// --- The console's forms, signed in with the session's CSRF token.
	person := func(name, phone string) string { return url.Values{"name": {name}, "phone": {phone}}.Encode() }
	add(
		hostileItem{name: "console/no session", req: anon("POST", "/people/customers", formCT, person("Eve", "31655555555")), want: []int{401}},
		hostileItem{name: "console/no CSRF token", req: withoutHeader(b.consoleReq("POST", "/people/customers", formCT, person("Eve", "31655555555")), components.CSRFHeader), want: []int{403}},
		hostileItem{name: "console/forged session", req: withHeader(anon("POST", "/people/customers", formCT, person("Eve", "31655555555")), "Cookie", sessionCookie+"="+url.QueryEscape(sqlOr)), want: []int{401}},
		hostileItem{name: "console/large body without a session", req: anon("POST", "/numbers/bulk", formCT, "numbers="+big(100<<10)), want: []int{413}},
		hostileItem{name: "people/letters in phone", req: b.consoleReq("POST", "/people/customers", formCT, person("Eve", "31CALLME")), want: []int{422}},
		hostileItem{name: "people/SQL in phone", req: b.consoleReq("POST", "/people/drivers", formCT, person("Eve", sqlOr)), want: []int{422}},
		hostileItem{name: "people/NUL in name", req: b.consoleReq("POST", "/people/customers", formCT, person("Eve\x00", "31655555555")), want: []int{422}},
		hostileItem{name: "people/invalid UTF-8 name", req: b.consoleReq("POST", "/people/customers", formCT, "name=Eve%ff&phone=31655555555"), want: []int{422}},
		hostileItem{name: "people/missing fields", req: b.consoleReq("POST", "/people/customers", formCT, ""), want: []int{422}},
		hostileItem{name: "people/doubled name, first empty", req: b.consoleReq("POST", "/people/customers", formCT, "name=&"+person("Eve", "31655555555")), want: []int{422}},
		hostileItem{name: "people/JSON body", req: b.consoleReq("POST", "/people/customers", jsonCT, `{"name":"Eve","phone":"31655555555"}`), want: []int{422}},
		hostileItem{name: "people/name of 900 KiB", req: b.consoleReq("POST", "/people/customers", formCT, person(big(900<<10), "31655555555")), want: []int{422}},
		hostileItem{name: "people/over 1 MiB", req: b.consoleReq("POST", "/people/customers", formCT, person(big(1<<20), "31655555555")), want: []int{413}},
		hostileItem{name: "people/gzip", req: withHeader(b.consoleReq("POST", "/people/customers", formCT, gzipBomb(1<<20)), "Content-Encoding", "gzip"), want: []int{415}},
		hostileItem{name: "people/unknown id", req: b.consoleReq("POST", "/people/customers/"+url.PathEscape(sqlOr), formCT, person("Eve", "31655555555")), want: []int{404}},
		hostileItem{name: "people/id overflows", req: b.consoleReq("POST", "/people/drivers/99999999999999999999/delete", formCT, ""), want: []int{404}},
		hostileItem{name: "people/HTML in search", req: b.consoleReq("GET", "/people?q="+url.QueryEscape(xss), "", ""), want: []int{200}},
		hostileItem{name: "people/invalid UTF-8 search", req: b.consoleReq("GET", "/people?q=%ff%fe", "", ""), want: []int{200}},
		hostileItem{name: "people/NUL in search", req: b.consoleReq("GET", "/people?q=a%00b", "", ""), want: []int{200}},
		hostileItem{name: "people/SQL and HTML in name are stored verbatim", req: b.consoleReq("POST", "/people/customers", formCT, person(sqlOr+xss, "31655555555")),
			want: []int{303}, grows: map[string]int64{"customers": 1}, check: expectStored(sqlOr+xss, b.names(ride.RoleCustomer))},
		hostileItem{name: "numbers/SQL in number", req: b.consoleReq("POST", "/numbers", formCT, "number="+url.QueryEscape(sqlOr)), want: []int{422}},
		hostileItem{name: "numbers/letters in number", req: b.consoleReq("POST", "/numbers", formCT, "number=3197CALLME"), want: []int{422}},
		hostileItem{name: "numbers/NUL in country", req: b.consoleReq("POST", "/numbers", formCT, "number=31970000094&country=N%00"), want: []int{422}},
		hostileItem{name: "numbers/HTML in country", req: b.consoleReq("POST", "/numbers", formCT, "number=31970000094&country="+url.QueryEscape(xss)), want: []int{422}},
		hostileItem{name: "numbers/duplicate", req: b.consoleReq("POST", "/numbers", formCT, "number="+proxy), want: []int{409}},
		hostileItem{name: "numbers/enabled garbage", req: b.consoleReq("POST", "/numbers/"+itoa(proxyID)+"/enabled", formCT, "enabled="+url.QueryEscape(sqlOr)), want: []int{422}},
		hostileItem{name: "numbers/unknown id", req: b.consoleReq("POST", "/numbers/abc/enabled", formCT, "enabled=false"), want: []int{404}},
		hostileItem{name: "bulk/empty", req: b.consoleReq("POST", "/numbers/bulk", formCT, "numbers=+%0A%0A"), want: []int{422}},
		hostileItem{name: "bulk/too many lines", req: b.consoleReq("POST", "/numbers/bulk", formCT, "numbers="+strings.Repeat("x%0A", 1001)), want: []int{422}},
		hostileItem{name: "bulk/over 1 MiB", req: b.consoleReq("POST", "/numbers/bulk", formCT, "numbers="+big(1<<20)), want: []int{413}},
		hostileItem{name: "bulk/hostile lines are all refused", req: b.consoleReq("POST", "/numbers/bulk", formCT, "numbers="+url.QueryEscape(strings.Join([]string{
			sqlOr, sqlDrop, xss, xmlMeta, "31970000095,N\x00", "\xff\xfe", "3197CALLME", "31970000095," + sqlOr, big(900 << 10)}, "\n"))),
			want: []int{200}, check: func(t *testing.T, body string) {
				if n := strings.Count(body, `data-testid="bulk-reject"`); n != 9 {
					t.Errorf("%d lines rejected, want 9", n)
				}
			}},
		hostileItem{name: "rides/SQL in customer", req: b.consoleReq("POST", "/rides", formCT, rideForm("customer_id", sqlOr)), want: []int{422}},
		hostileItem{name: "rides/unknown driver", req: b.consoleReq("POST", "/rides", formCT, rideForm("driver_id", "99999999")), want: []int{422}},
		hostileItem{name: "rides/garbage pickup", req: b.consoleReq("POST", "/rides", formCT, rideForm("pickup_at", xss)), want: []int{422}},
		hostileItem{name: "rides/NUL in start", req: b.consoleReq("POST", "/rides", formCT, rideForm("start", "Dam\x00")), want: []int{422}},
		hostileItem{name: "rides/invalid UTF-8 destination", req: b.consoleReq("POST", "/rides", formCT, rideForm("destination", "\xff")), want: []int{422}},
		hostileItem{name: "rides/SQL and HTML in addresses are stored verbatim", req: b.consoleReq("POST", "/rides", formCT, rideForm("start", sqlOr, "destination", xss)),
			want: []int{200}, grows: rideGrows, check: expectStored(xss, b.destinations)},
		hostileItem{name: "rides/invalid UTF-8 search", req: b.consoleReq("GET", "/rides?q=%ff", "", ""), want: []int{200}},
		hostileItem{name: "rides/NUL in search", req: b.consoleReq("GET", "/rides?q=%00", "", ""), want: []int{200}},
		hostileItem{name: "rides/search cut inside a character", req: b.consoleReq("GET", "/rides?q="+url.QueryEscape("a"+strings.Repeat("é", 60)), "", ""), want: []int{200}},
		hostileItem{name: "rides/page overflows", req: b.consoleReq("GET", "/rides?page=100000000", "", ""), want: []int{200}},
		hostileItem{name: "rides/HTML in status filter", req: b.consoleReq("GET", "/rides/list?status="+url.QueryEscape(xss), "", ""), want: []int{303}},
		hostileItem{name: "rides/invalid UTF-8 person search", req: b.consoleReq("GET", "/rides/options?role=customer&customer_q=%ff%00", "", ""), want: []int{200}},
		hostileItem{name: "rides/SQL in role", req: b.consoleReq("GET", "/rides/options?role="+url.QueryEscape(sqlOr), "", ""), want: []int{422}},
		hostileItem{name: "ride/unknown id", req: b.consoleReq("GET", "/rides/"+url.PathEscape(sqlOr), "", ""), want: []int{404}},
		hostileItem{name: "ride/end with SQL status", req: b.consoleReq("POST", "/rides/"+rideID+"/end", formCT, "status="+url.QueryEscape(sqlOr)), want: []int{422}, check: stillActive},
		hostileItem{name: "ride/extend by a billion hours", req: b.consoleReq("POST", "/rides/"+rideID+"/extend", formCT, "hours=1000000000"), want: []int{422}},
		hostileItem{name: "ride/extend by letters", req: b.consoleReq("POST", "/rides/"+rideID+"/extend", formCT, "hours=1e3"), want: []int{422}},
		hostileItem{name: "simulator/SQL in ride", req: b.consoleReq("POST", "/simulator", formCT, "action=sms&as=customer&text=hi&ride_id="+url.QueryEscape(sqlOr)), want: []int{422}},
		hostileItem{name: "simulator/unknown party", req: b.consoleReq("POST", "/simulator", formCT, "action=sms&text=hi&ride_id="+rideID+"&as="+url.QueryEscape(xss)), want: []int{422}},
		hostileItem{name: "simulator/unknown action", req: b.consoleReq("POST", "/simulator", formCT, "action=fax&as=customer&ride_id="+rideID), want: []int{422}},
		// The simulator answers 200 and shows the webhook's own 400.
		hostileItem{name: "simulator/NUL in text", req: b.consoleReq("POST", "/simulator", formCT, "action=sms&as=customer&text=a%00b&ride_id="+rideID), want: []int{200},
			check: func(t *testing.T, body string) {
				if !strings.Contains(body, "400") {
					t.Errorf("the simulator does not show the webhook's refusal")
				}
			}},
		hostileItem{name: "simulator/invalid UTF-8 text", req: b.consoleReq("POST", "/simulator", formCT, "action=sms&as=customer&text=%ff&ride_id="+rideID), want: []int{200}},
		hostileItem{name: "sends/retry x", req: b.consoleReq("POST", "/sends/x/retry", formCT, ""), want: []int{404}},
		hostileItem{name: "sends/retry overflow", req: b.consoleReq("POST", "/sends/99999999999999999999/retry", formCT, ""), want: []int{404}},
		hostileItem{name: "sends/cancel negative", req: b.consoleReq("POST", "/sends/-1/cancel", formCT, ""), want: []int{404}},
		hostileItem{name: "sends/retry SQL", req: b.consoleReq("POST", "/sends/"+url.PathEscape(sqlOr)+"/retry", formCT, ""), want: []int{404}},
	)
	for _, path := range []string{"/people/customers", "/numbers", "/numbers/bulk", "/rides", "/simulator", "/sends/1/retry"} {
		for _, m := range []string{"PUT", "DELETE", "PATCH"} {
			add(hostileItem{name: "console/method " + m + " " + path, req: b.consoleReq(m, path, formCT, "a=b"), want: notAllowed})
		}
	}

	// --- Signatures: forged, expired, replayed.
	smsBody := sms("id", "mb-signed", "payload", "signed")
	smsURL := hostilePublicURL + "/webhook"
	now := time.Now()
	claims := func(kv ...any) map[string]any {
		m := map[string]any{"iss": "MessageBird", "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "forged-1",
			"url_hash": sha256Hex([]byte(smsURL)), "payload_hash": sha256Hex([]byte(smsBody))}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	forged := func(name, token string) hostileItem {
		return hostileItem{name: "signature/" + name, signed: true, want: []int{401},
			req: withHeader(anon("POST", "/webhook", formCT, smsBody), messagebird.SignatureHeader, token)}
	}
	add(
		hostileItem{name: "signature/none", signed: true, req: anon("POST", "/webhook", formCT, smsBody), want: []int{401}},
		forged("garbage", "a.b.c"),
		forged("SQL", sqlOr),
		forged("alg none", forgedToken("none", "", claims())),
		forged("other key", forgedToken("HS256", "other-key", claims())),
		forged("empty key", forgedToken("HS256", "", claims())),
		forged("other issuer", forgedToken("HS256", hostileKey, claims("iss", "Mallory"))),
		forged("no jti", forgedToken("HS256", hostileKey, claims("jti", nil))),
		forged("no exp", forgedToken("HS256", hostileKey, claims("exp", nil))),
		forged("expired", forgedToken("HS256", hostileKey, claims("nbf", now.Add(-3*time.Minute).Unix(), "exp", now.Add(-2*time.Minute).Unix()))),
		forged("not yet valid", forgedToken("HS256", hostileKey, claims("nbf", now.Add(5*time.Minute).Unix(), "exp", now.Add(6*time.Minute).Unix()))),
		forged("other URL", forgedToken("HS256", hostileKey, claims("url_hash", sha256Hex([]byte(hostilePublicURL+"/webhook-status"))))),
		forged("other body", forgedToken("HS256", hostileKey, claims("payload_hash", sha256Hex([]byte(smsBody+"x"))))),
		forged("no body hash", forgedToken("HS256", hostileKey, claims("payload_hash", nil))),
	)
	// A valid signature works once; the same request sent again is refused.
	once := func(build func(*testing.T) *http.Request) func(*testing.T) *http.Request {
		var token string
		return func(t *testing.T) *http.Request {
			req := build(t)
			if token == "" {
				token = signRequest(t, hostileKey, req, time.Now())
			}
			req.Header.Set(messagebird.SignatureHeader, token)
			return req
		}
	}
	smsSigned := once(anon("POST", "/webhook", formCT, smsBody))
	voiceSigned := once(anon("GET", voice("callID", "signed-call"), "", ""))
	statusSigned := once(anon("GET", "/webhook-status?"+report(), "", ""))
	add(
		hostileItem{name: "signature/valid SMS", signed: true, req: smsSigned, want: []int{200}, grows: map[string]int64{"messages": 2}},
		hostileItem{name: "signature/replayed SMS", signed: true, req: smsSigned, want: []int{401}},
		hostileItem{name: "signature/valid call", signed: true, req: voiceSigned, want: []int{200}, grows: call},
		hostileItem{name: "signature/replayed call", signed: true, req: voiceSigned, want: []int{401}},
		hostileItem{name: "signature/valid report", signed: true, req: statusSigned, want: []int{200}},
		hostileItem{name: "signature/replayed report", signed: true, req: statusSigned, want: []int{401}},
		hostileItem{name: "signature/valid signature, other method", signed: true, req: signedReq(anon("PUT", "/webhook", formCT, smsBody)), want: only405},
	)

	// --- Requests net/http will not send.
	add(
		hostileItem{name: "raw/garbage request line", raw: "GARBAGE\r\n\r\n", want: []int{400}},
		hostileItem{name: "raw/unknown method", raw: "BREW /webhook HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{400, 405, 501}},
		hostileItem{name: "raw/header without a colon", raw: "POST /webhook HTTP/1.1\r\nHost: x\r\nnot a header\r\nContent-Length: 0\r\n\r\n", want: []int{400}},
		hostileItem{name: "raw/bad content length", raw: "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", want: []int{400}},
		hostileItem{name: "raw/negative content length", raw: "POST /api/v1/rides HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", want: []int{400}},
		hostileItem{name: "raw/bad chunk", raw: "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: " + formCT + "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nid=1\r\n0\r\n\r\n", want: []int{400}},
		hostileItem{name: "raw/declared body over 1 MiB", raw: "POST /numbers/bulk HTTP/1.1\r\nHost: x\r\nContent-Type: " + formCT + "\r\nContent-Length: 2000000\r\n\r\n" + big(100), want: []int{413}},
		hostileItem{name: "raw/huge header", raw: "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + big(16<<10) + "\r\n\r\n", want: []int{431}},
		hostileItem{name: "raw/NUL in the path", raw: "GET /rides/\x00 HTTP/1.1\r\nHost: x\r\n\r\n", want: []int{303, 400, 404}},
	)
	return items
}

// TestHostile_WebhookFlood fills every webhook slot: the next webhook
// waits briefly, then gets a 503 MessageBird retries, while the rest of
// the server still answers; a slot freed while it waits lets it in.
func TestHostile_WebhookFlood(t *testing.T) {
	t.Parallel()
	if got := cap(NewServer(t.Context(), &Server{Rides: &ride.Service{DB: dbtest.Tx(t)}, WebhookConcurrency: 3}).webhookSlots); got != 3 {
		t.Errorf("WebhookConcurrency 3 gives %d slots", got)
	}
	b := setup(t, nil)
	if got := cap(b.srv.webhookSlots); got != defaultWebhookConcurrency {
		t.Errorf("the default gives %d slots, want %d", got, defaultWebhookConcurrency)
	}
	f := b.activeRide(t)
	call := "/webhook-voice?" + url.Values{"source": {digits(f.customer.Phone)}, "destination": {digits(f.ride.ProxyNumber)}, "callID": {"c"}}.Encode()
	for range cap(b.srv.webhookSlots) {
		b.srv.webhookSlots <- struct{}{}
	}

	start := time.Now()
	r := b.do(t, httptest.NewRequest("GET", call, nil))
	body, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("flooded: %d, Retry-After %q, want 503 and 1", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if msg := errorMessage(t, r, body); !strings.Contains(msg, "Try again") {
		t.Errorf("flooded: message %q", msg)
	}
	if waited := time.Since(start); waited < webhookSlotWait {
		t.Errorf("turned away after %v, want a wait of %v first", waited, webhookSlotWait)
	}
	if r := b.do(t, httptest.NewRequest("GET", "/healthz", nil)); r.StatusCode != 200 {
		t.Errorf("GET /healthz while webhooks are full: %d", r.StatusCode)
	}
	if n := b.rowCounts(t)["calls"]; n != 0 {
		t.Errorf("%d calls recorded while turned away", n)
	}

	go func() {
		time.Sleep(webhookSlotWait / 4)
		<-b.srv.webhookSlots
	}()
	if r := b.do(t, httptest.NewRequest("GET", call, nil)); r.StatusCode != 200 {
		t.Errorf("a slot freed while waiting: %d, want 200", r.StatusCode)
	}
	if got := len(b.srv.webhookSlots); got != cap(b.srv.webhookSlots)-1 {
		t.Errorf("%d slots taken after the request, want its slot given back", got)
	}
}

// TestHostile_ReplayAfterServerError: a signature whose request failed on
// our side stays usable, so MessageBird's retry gets through once.
func TestHostile_ReplayAfterServerError(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.srv.PublicURL = hostilePublicURL
	b.srv.useSigningKey(hostileKey)
	f := b.activeRide(t)
	call := "/webhook-voice?" + url.Values{"source": {digits(f.customer.Phone)}, "destination": {digits(f.ride.ProxyNumber)}, "callID": {"c"}}.Encode()
	token := messagebird.Sign(hostileKey, hostilePublicURL+call, nil, time.Now())
	send := func() int {
		req := httptest.NewRequest("GET", call, nil)
		req.Header.Set(messagebird.SignatureHeader, token)
		return b.do(t, req).StatusCode
	}
	for range cap(b.srv.webhookSlots) {
		b.srv.webhookSlots <- struct{}{}
	}
	if got := send(); got != http.StatusServiceUnavailable {
		t.Fatalf("flooded: %d, want 503", got)
	}
	for range cap(b.srv.webhookSlots) {
		<-b.srv.webhookSlots
	}
	if got := send(); got != 200 {
		t.Errorf("the retry after a 503: %d, want 200", got)
	}
	if got := send(); got != http.StatusUnauthorized {
		t.Errorf("the same signature once more: %d, want 401", got)
	}
}
