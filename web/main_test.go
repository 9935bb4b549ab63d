package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"birdcar/sql/admin"
	"birdcar/sql/dbtest"
	"birdcar/sql/ride"
	"birdcar/sql/ride/ridetest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const testToken = "test-token-0123456789"

// testPublicURL is where the test server pretends MessageBird reaches it.
const testPublicURL = "https://birdcar.test"

type testBundle struct {
	*ridetest.Bundle
	srv *Server
}

// setup builds a server on conn (a test transaction by default) over a
// ridetest Service, with an API token and a console without a password
// (withAdmin gives it one).
func setup(t testing.TB, conn ride.DB) *testBundle {
	t.Helper()
	rb := ridetest.New(t, conn)
	srv := NewServer(t.Context(), &Server{
		Rides: rb.Rides, Admin: &admin.Service{DB: rb.DB, Now: rb.Clock.Now, Cost: bcrypt.MinCost}, Logger: rb.Rides.Logger,
		APITokens: []string{testToken}, PublicURL: testPublicURL,
	})
	return &testBundle{Bundle: rb, srv: srv}
}

// do sends a real HTTP request through the Fiber app; an API answer must
// conform to openapi.json.
func (b *testBundle) do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := b.srv.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	checkAPIAnswer(t, req, resp)
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
