package web

import (
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"birdcar/sql/ride"
)

// TestBrowser_FindRide finds a ride through the top bar's search box by
// the masked number a customer reports and by a national form of a
// party's phone (British, while DEFAULT_COUNTRY is NL), then narrows the
// rides page's own search, on a desktop and on a 390 px phone.
func TestBrowser_FindRide(t *testing.T) {
	var srv *Server
	b := startBrowserStack(t, func(_ *river.Client[pgx.Tx], s *Server) { srv = s })
	ctx := t.Context()
	person := func(role ride.Role, name, phone string) ride.Person {
		p, err := srv.Rides.CreatePerson(ctx, role, ride.PersonInput{Name: name, Phone: phone})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, n := range []ride.NumberInput{{Number: "+447700900202", Country: "GB"}, {Number: "+3197000000001", Country: "NL"}, {Number: "+3197000000002", Country: "NL"}} {
		if _, err := srv.Rides.AddNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	newRide := func(c, d ride.Person) ride.Ride {
		r, err := srv.Rides.CreateRide(ctx, ride.NewRide{CustomerID: c.ID, DriverID: d.ID, Start: "King's Cross", Destination: "Heathrow", PickupAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	gwens := newRide(person(ride.RoleCustomer, "Gwen", "+447700900003"), person(ride.RoleDriver, "Dave", "+31622222222"))
	other := newRide(person(ride.RoleCustomer, "Caitlin", "+31611111111"), person(ride.RoleDriver, "Piet", "+31644444444"))
	if gwens.ProxyNumber != "+447700900202" || other.ProxyNumber == gwens.ProxyNumber {
		t.Fatalf("rides on %s and %s, want Gwen's on the British number", gwens.ProxyNumber, other.ProxyNumber)
	}

	b.run(t, "log in",
		b.logIn(browserUser, browserPassword),
		chromedp.WaitVisible(sel("top-search-q")),
	)
	// onlyRide waits until the list shows exactly Gwen's ride.
	onlyRide := chromedp.Poll(fmt.Sprintf(`(() => {
		const rows = document.querySelectorAll('[data-testid="ride-row"]');
		return rows.length == 1 && rows[0].dataset.rideId == %q && !document.querySelector('[data-testid="rides-empty"]');
	})()`, strconv.FormatInt(gwens.ID, 10)), nil, chromedp.WithPollingTimeout(10*time.Second))

	for _, vp := range []struct {
		name          string
		width, height int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		t.Run(vp.name, func(t *testing.T) {
			for _, q := range []string{"+44 7700 900202", "07700 900003"} {
				var search, shown string
				var inView bool
				b.run(t, vp.name+" top bar "+q,
					chromedp.EmulateViewport(vp.width, vp.height),
					chromedp.Navigate(b.base+"/people"),
					chromedp.WaitVisible(sel("top-search-q")),
					chromedp.Evaluate(`(() => {
						const r = document.querySelector('[data-testid="top-search-q"]').getBoundingClientRect();
						return r.left >= 0 && r.right <= innerWidth && r.width >= 150;
					})()`, &inView),
					chromedp.SendKeys(sel("top-search-q"), q),
					chromedp.Submit(sel("top-search-q")),
					chromedp.WaitVisible(sel("ride-filters")),
					onlyRide,
					chromedp.Evaluate(`location.pathname + location.search`, &search),
					chromedp.Value(sel("ride-search"), &shown),
				)
				if !inView {
					t.Errorf("%s: the search box is not wholly on screen", vp.name)
				}
				if search != "/rides?q="+url.QueryEscape(q) || shown != q {
					t.Errorf("%s: at %q, search box %q; want the search in the URL and the box", q, search, shown)
				}
			}
			// The rides page's own box narrows the list in place, and
			// the address follows, so the link can be shared.
			var search string
			b.run(t, vp.name+" rides page search",
				chromedp.Navigate(b.base+"/rides"),
				chromedp.WaitVisible(sel("ride-search")),
				chromedp.Evaluate(`window.__stayed = "yes"`, nil),
				chromedp.SendKeys(sel("ride-search"), "900202"),
				onlyRide,
				chromedp.Poll(`location.search == "?q=900202" && window.__stayed == "yes"`, nil, chromedp.WithPollingTimeout(10*time.Second)),
				chromedp.Evaluate(`location.pathname + location.search`, &search),
			)
			if search != "/rides?q=900202" {
				t.Errorf("address after the in-page search: %q", search)
			}
		})
	}

	// A ride created while the list says "No rides match." takes that away.
	var stale int
	b.run(t, "create into an empty list",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(b.base+"/rides?q=nobody"),
		chromedp.WaitVisible(sel("rides-empty")),
		chromedp.SetValue(sel("ride-customer_id"), strconv.FormatInt(gwens.CustomerID, 10)),
		chromedp.SetValue(sel("ride-driver_id"), strconv.FormatInt(other.DriverID, 10)),
		chromedp.SendKeys(sel("ride-start"), "Euston"),
		chromedp.SendKeys(sel("ride-destination"), "Gatwick"),
		chromedp.Click(sel("ride-submit")),
		chromedp.WaitVisible(sel("ride-created")),
		chromedp.WaitVisible(sel("ride-row")),
		chromedp.Evaluate(`document.querySelectorAll('[data-testid="rides-empty"]').length`, &stale),
	)
	if stale != 0 {
		t.Error(`"No rides match." stayed above the new ride`)
	}
}
