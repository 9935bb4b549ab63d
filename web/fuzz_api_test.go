package web

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAPIRideCreate sends arbitrary bodies to POST /api/v1/rides: the
// answer is a ride or a clear 4xx problem document, never a server error.
//
//	go test ./web -run '^$' -fuzz '^FuzzAPIRideCreate$' -fuzztime 60s
func FuzzAPIRideCreate(f *testing.F) {
	b := setup(f, nil)
	c, d, _ := b.People(f, 2)
	valid := `{"customer_id":` + itoa(c.ID) + `,"driver_id":` + itoa(d.ID) +
		`,"start":"Dam 1","destination":"Schiphol","pickup_at":"2026-05-01T14:30:00+02:00"}`
	for _, seed := range []string{
		valid,
		strings.Replace(valid, `"Dam 1"`, `"Dam\u00001"`, 1),
		strings.Replace(valid, `"Schiphol"`, `"<script>alert(1)</script>' OR 1=1 --"`, 1),
		strings.Replace(valid, itoa(c.ID), `"1"`, 1),
		strings.Replace(valid, itoa(d.ID), `1e30`, 1),
		strings.Replace(valid, `"2026-05-01T14:30:00+02:00"`, `"9999-99-99T99:99:99Z"`, 1),
		valid[:len(valid)/2],
		`{"customer_id":-1,"driver_id":0,"start":"` + strings.Repeat("a", 300) + `"}`,
		`{"start":{"$ne":null},"destination":[],"pickup_at":true}`,
		`null`, `[]`, `""`, `{}`, ` {"a":1} {"b":2}`, "{\"start\":\"\xff\"}", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/v1/rides", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := b.srv.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		switch resp.StatusCode {
		case 201:
			return
		case 400, 409, 413, 422:
		default:
			t.Fatalf("%q: %d %s", body, resp.StatusCode, out)
		}
		var p problem
		if err := json.Unmarshal(out, &p); err != nil || p.Detail == "" || p.Code == "" {
			t.Fatalf("%q: %d without a problem document: %s", body, resp.StatusCode, out)
		}
		if m := leaks.FindString(p.Detail); m != "" {
			t.Fatalf("%q: the answer shows %q: %s", body, m, p.Detail)
		}
	})
}
