package web

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"birdcar/sql/ride"
	"birdcar/sql/sample"
)

func page(t *testing.T, b *testBundle, path string, htmx bool) (int, *goquery.Document) {
	t.Helper()
	req := b.signIn(t, httptest.NewRequest("GET", path, nil))
	if htmx {
		req.Header.Set("HX-Request", "true")
	}
	r := b.do(t, req)
	doc, err := goquery.NewDocumentFromReader(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r.StatusCode, doc
}

func TestDashboard_ShowsSampleData(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := t.Context()
	if err := sample.Insert(ctx, b.Rides.DB); err != nil {
		t.Fatal(err)
	}
	c, err := b.Rides.People(ctx, ride.RoleCustomer, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.Rides.People(ctx, ride.RoleDriver, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateRide(t, c[0], d[0]); err != nil {
		t.Fatal(err)
	}
	status, doc := page(t, b, "/", false)
	if status != 200 {
		t.Fatalf("GET /: %d", status)
	}
	for sel, want := range map[string]string{
		`[data-testid="count-active"]`: "1", `[data-testid="count-capacity"]`: "5", `[data-testid="count-messages"]`: "2",
		`[data-testid="count-failed"]`: "0",
	} {
		if got := doc.Find(sel).Text(); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	if n := doc.Find(`[data-testid="ride-row"]`).Length(); n != 1 {
		t.Errorf("latest rides: %d rows, want 1", n)
	}
	if n := doc.Find(`[data-testid="hour-bar"]`).Length(); n != 24 {
		t.Errorf("chart: %d bars, want one per hour", n)
	}
	if !strings.Contains(doc.Find(`[data-testid="rides"]`).Text(), c[0].Name) {
		t.Error("latest rides lack the sample customer")
	}
	if doc.Find("head title").Text() != "Overview · BirdCar" || doc.Find(`script[src="/static/htmx.min.js"]`).Length() != 1 ||
		doc.Find(`nav a[aria-current="page"]`).Text() != "Overview" {
		t.Errorf("full page lacks its layout: title %q, current %q", doc.Find("head title").Text(), doc.Find(`nav a[aria-current="page"]`).Text())
	}
	// htmx asks for the fragment alone.
	if _, frag := page(t, b, "/", true); frag.Find("head title").Length() != 0 || frag.Find(`[data-testid="rides"]`).Length() != 1 {
		t.Error("htmx request did not get the bare fragment")
	}
}

func TestDashboard_ShowsNamesAsText(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, d, _ := b.People(t, 1)
	x := b.Person(t, ride.RoleCustomer, "<script>alert(1)</script>", "+31619999999")
	if _, err := b.CreateRide(t, x, d); err != nil {
		t.Fatal(err)
	}
	r := b.do(t, b.signIn(t, httptest.NewRequest("GET", "/", nil)))
	body, _ := io.ReadAll(r.Body)
	if strings.Contains(string(body), "<script>alert(1)") || !strings.Contains(string(body), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("a customer's name reached the page as markup")
	}
}

func TestServer_HealthStaticAndNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	if r := b.do(t, httptest.NewRequest("GET", "/healthz", nil)); r.StatusCode != 200 {
		t.Errorf("/healthz: %d", r.StatusCode)
	}
	for path, ct := range map[string]string{"/static/htmx.min.js": "javascript", "/static/birdcar.css": "text/css"} {
		r := b.do(t, httptest.NewRequest("GET", path, nil))
		if r.StatusCode != 200 || !strings.Contains(r.Header.Get("Content-Type"), ct) {
			t.Errorf("%s: %d %s", path, r.StatusCode, r.Header.Get("Content-Type"))
		}
	}
	status, doc := page(t, b, "/no/such/page", false)
	if status != 404 || !strings.Contains(doc.Find(`[data-testid="error"]`).Text(), "nothing at this address") {
		t.Errorf("unknown page: %d %q", status, doc.Find(`[data-testid="error"]`).Text())
	}
	if status, frag := page(t, b, "/no/such/page", true); status != 404 || frag.Find("head title").Length() != 0 {
		t.Errorf("unknown page for htmx: %d, want a bare 404 fragment", status)
	}
}
