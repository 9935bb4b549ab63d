package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"birdcar/sql/db"
	"birdcar/sql/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const testToken = "test-token-0123456789"

// clock is a controllable time source for grace-period tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type testBundle struct {
	srv   *Server
	q     *db.Queries
	clock *clock
}

// setup builds a server on conn (a test transaction by default) with an
// insert-only River client, an API token and a controlled clock.
func setup(t testing.TB, conn DB) *testBundle {
	t.Helper()
	if conn == nil {
		conn = dbtest.Tx(t)
	}
	jobsClient, err := river.NewClient(riverpgxv5.New(nil), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	srv := NewServer(t.Context(), &Server{
		DB: conn, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Jobs: jobsClient, DefaultCountry: "NL", GracePeriod: 24 * time.Hour,
		APITokens: []string{testToken}, Now: clk.Now, Location: time.UTC,
	})
	return &testBundle{srv: srv, q: db.New(conn), clock: clk}
}

// do sends a real HTTP request through the Fiber app.
func (b *testBundle) do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := b.srv.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// api calls the JSON API with the test token and decodes the answer into out.
func (b *testBundle) api(t *testing.T, method, path string, body any, out any) *http.Response {
	t.Helper()
	var r io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(buf)
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp := b.do(t, req)
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode %d answer: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp
}

// people inserts a customer, a driver and n pool numbers.
func (b *testBundle) people(t testing.TB, ctx context.Context, n int) (db.Customer, db.Driver, []db.ProxyNumber) {
	t.Helper()
	c, err := b.q.CustomerCreate(ctx, db.CustomerCreateParams{Name: "Caitlin", Phone: "+31611111111"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.q.DriverCreate(ctx, db.DriverCreateParams{Name: "Dave", Phone: "+31622222222"})
	if err != nil {
		t.Fatal(err)
	}
	var nums []db.ProxyNumber
	for i := range n {
		p, err := b.q.ProxyNumberCreate(ctx, db.ProxyNumberCreateParams{Number: "+3197000000" + string(rune('0'+i/10)) + string(rune('0'+i%10)), Country: "NL"})
		if err != nil {
			t.Fatal(err)
		}
		nums = append(nums, p)
	}
	return c, d, nums
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decodeBody(r *http.Response, out any) error { return json.NewDecoder(r.Body).Decode(out) }

func dbDriver(name, phone string) db.DriverCreateParams {
	return db.DriverCreateParams{Name: name, Phone: phone}
}
