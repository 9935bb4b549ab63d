package web

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"birdcar/sql/ride"
)

// TestSearch_TopBarOnEveryPage: every console page has the one search
// box, a GET form to the rides list.
func TestSearch_TopBarOnEveryPage(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, path := range []string{"/", "/rides", "/people", "/numbers", "/sends", "/simulator"} {
		status, doc := page(t, b, path, false)
		form := doc.Find(sel("top-search"))
		action, _ := form.Attr("action")
		method, _ := form.Attr("method")
		name, _ := form.Find(sel("top-search-q")).Attr("name")
		if status != 200 || form.Length() != 1 || action != "/rides" || method != "get" || name != "q" {
			t.Errorf("%s: %d, search form %d (action %q, method %q, input %q)", path, status, form.Length(), action, method, name)
		}
	}
}

// TestSearch_RidesByAnyNumberWithFiltersInTheURL: the rides page finds a
// ride by its masked number or a party's national form, keeps the filters
// in its links, and its htmx answers push the page's address.
func TestSearch_RidesByAnyNumberWithFiltersInTheURL(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	c, d, _ := b.People(t, 26)
	gwen := b.Person(t, ride.RoleCustomer, "Gwen", "+447700900003")
	b.Number(t, "+447700900202", "GB")
	gwens, err := b.CreateRide(t, gwen, d) // British customer: the GB number
	if err != nil || gwens.ProxyNumber != "+447700900202" {
		t.Fatalf("Gwen's ride: %+v, %v", gwens, err)
	}
	for range 26 { // more than a page for one pair
		if _, err := b.CreateRide(t, c, d); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(doc *goquery.Document) []string {
		var out []string
		doc.Find(sel("ride-row")).Each(func(_ int, s *goquery.Selection) { v, _ := s.Attr("data-ride-id"); out = append(out, v) })
		return out
	}
	// A full page, as the top bar's form opens it.
	for _, q := range []string{"+44 7700 900202", "900202", "07700 900003", "#" + itoa(gwens.ID)} {
		status, doc := page(t, b, "/rides?"+url.Values{"q": {q}}.Encode(), false)
		if got := ids(doc); status != 200 || len(got) != 1 || got[0] != itoa(gwens.ID) {
			t.Errorf("/rides?q=%s: %d, rides %v, want [%d]", q, status, got, gwens.ID)
		}
		if v, _ := doc.Find(sel("ride-search")).Attr("value"); v != q {
			t.Errorf("q=%s: the search box shows %q", q, v)
		}
	}
	// The new-ride form says what the pool can still give: a new pair can
	// have a ride on each of the 27 numbers, though 27 rides hold them.
	if _, doc := page(t, b, "/rides", false); doc.Find(sel("pool-capacity")).Text() != "27" || doc.Find(sel("pool-free")).Text() != "0" {
		t.Errorf("capacity shown as %q (%q unused), want 27 (0)", doc.Find(sel("pool-capacity")).Text(), doc.Find(sel("pool-free")).Text())
	}
	// The pickup range: rides are picked up on 1 May 2026.
	for query, want := range map[string]int{"from=2026-05-01&to=2026-05-01&q=900202": 1, "from=2026-05-02&q=900202": 0, "to=2026-04-30&q=900202": 0, "from=nonsense&q=900202": 1} {
		_, doc := page(t, b, "/rides?"+query, false)
		if got := ids(doc); len(got) != want {
			t.Errorf("%s: %d rides, want %d", query, len(got), want)
		}
	}
	// htmx answers with the list and pushes the page's address, not the fragment's.
	req := b.signIn(t, httptest.NewRequest("GET", "/rides/list?status=active&q=%2B44+7700+900202&from=2026-05-01", nil))
	req.Header.Set(hxRequest, "true")
	r := b.do(t, req)
	if got := r.Header.Get(hxPushURL); got != "/rides?from=2026-05-01&q=%2B44+7700+900202&status=active" {
		t.Errorf("pushed %q", got)
	}
	// Paging keeps the filters.
	_, doc := page(t, b, "/rides?status=active&from=2026-05-01", false)
	next, _ := doc.Find(sel("next-page")).Attr("href")
	hxNext, _ := doc.Find(sel("next-page")).Attr("hx-get")
	if next != "/rides?from=2026-05-01&page=2&status=active" || hxNext != "/rides/list?from=2026-05-01&page=2&status=active" {
		t.Errorf("next page %q (htmx %q), want the filters kept", next, hxNext)
	}
}

// TestSearch_NewRideTakesAwayTheEmptyState: a ride created into an empty
// list removes "No rides match." along with adding its row.
func TestSearch_NewRideTakesAwayTheEmptyState(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	c, d, _ := b.People(t, 1)
	if _, doc := page(t, b, "/rides", false); doc.Find("#rides-empty").Length() != 1 {
		t.Fatal("an empty list does not say so")
	}
	status, doc := b.consolePost(t, "/rides", url.Values{"customer_id": {itoa(c.ID)}, "driver_id": {itoa(d.ID)},
		"start": {"Dam 1"}, "destination": {"Schiphol"}, "pickup_at": {"2026-05-01T14:30"}})
	if oob, _ := doc.Find("#rides-empty").Attr("hx-swap-oob"); status != 200 || oob != "delete" {
		t.Errorf("create: %d, empty state swap %q; want it deleted", status, oob)
	}
	if !strings.Contains(doc.Find(sel("ride-created-number")).Text(), "+31 97") {
		t.Errorf("created on %q", doc.Find(sel("ride-created-number")).Text())
	}
}
