package web

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"golang.org/x/crypto/bcrypt"

	"birdcar/sql/admin"
	"birdcar/sql/ride"
)

// TestBrowser_RolesAndAudit: on a desktop and on a 390 px phone, a viewer
// who tries to create a ride gets the 403 page saying a dispatcher is
// needed; a dispatcher creates it; the audit page lists the creation
// under the dispatcher's name.
func TestBrowser_RolesAndAudit(t *testing.T) {
	var srv *Server
	b := startBrowserStack(t, func(_ *river.Client[pgx.Tx], s *Server) { srv = s })
	srv.Admin.Cost = bcrypt.MinCost
	ctx := t.Context()

	for i, vp := range []struct {
		name          string
		width, height int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		// Each viewport has its own people, number and operators.
		cust, err := srv.Rides.CreatePerson(ctx, ride.RoleCustomer, ride.PersonInput{Name: "Cara " + vp.name, Phone: fmt.Sprintf("+3161111110%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		drv, err := srv.Rides.CreatePerson(ctx, ride.RoleDriver, ride.PersonInput{Name: "Dirk " + vp.name, Phone: fmt.Sprintf("+3162222220%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Rides.AddNumber(ctx, ride.NumberInput{Number: fmt.Sprintf("+31970000009%d", i), Country: "NL"}); err != nil {
			t.Fatal(err)
		}
		const password = "browser test password"
		viewerName, dispatcherName := "Vera "+vp.name, "Dana "+vp.name
		for _, op := range []admin.NewOperator{
			{Name: viewerName, Username: "vera-" + vp.name, Role: admin.RoleViewer, Password: password},
			{Name: dispatcherName, Username: "dana-" + vp.name, Role: admin.RoleDispatcher, Password: password},
		} {
			if _, err := srv.Admin.AddOperator(ctx, op); err != nil {
				t.Fatal(err)
			}
		}
		login := func(user string) chromedp.Tasks {
			return chromedp.Tasks{
				network.ClearBrowserCookies(),
				b.logIn(user, password),
				// On a phone the role sits in the closed menu: present, not shown.
				chromedp.WaitReady(sel("user-role")),
			}
		}
		fillRide := chromedp.Tasks{
			chromedp.Navigate(b.base + "/rides"),
			chromedp.WaitVisible(sel("ride-form")),
			chromedp.SetValue(sel("ride-customer_id"), itoa(cust.ID)),
			chromedp.SetValue(sel("ride-driver_id"), itoa(drv.ID)),
			chromedp.SendKeys(sel("ride-start"), "Dam 1, Amsterdam"),
			chromedp.SendKeys(sel("ride-destination"), "Schiphol"),
			chromedp.Click(sel("ride-submit")),
		}

		var refusal, role, path string
		var forms int
		b.run(t, vp.name+": viewer refused",
			chromedp.EmulateViewport(vp.width, vp.height),
			login("vera-"+vp.name),
			chromedp.TextContent(sel("user-role"), &role),
			// A viewer is offered no form to create a ride …
			chromedp.Navigate(b.base+"/rides"),
			chromedp.WaitVisible(sel("ride-form-read-only")),
			chromedp.Evaluate(`document.querySelectorAll('[data-testid="ride-form"]').length`, &forms),
			// … and one made by hand (an old tab, a script) meets the 403 page.
			chromedp.Evaluate(fmt.Sprintf(`htmx.ajax('POST', '/rides', {source: document.body, values: {customer_id: '%d', driver_id: '%d', start: 'Dam 1', destination: 'Schiphol'}}); true`, cust.ID, drv.ID), nil),
			chromedp.WaitVisible(sel("error")),
			chromedp.Text(sel("error"), &refusal),
			chromedp.Evaluate(`location.pathname`, &path),
		)
		if forms != 0 {
			t.Errorf("%s: the viewer is offered %d ride forms", vp.name, forms)
		}
		if role != "viewer" || path != forbiddenPath || !strings.Contains(refusal, "dispatcher role") || !strings.Contains(refusal, viewerName) {
			t.Errorf("%s: the viewer (role shown %q) saw %q at %s; want the 403 page saying the dispatcher role is needed", vp.name, role, refusal, path)
		}
		if n, err := srv.Rides.CountActiveRides(ctx); err != nil || n != int64(i) {
			t.Fatalf("%s: %d active rides after the viewer's try (%v), want %d", vp.name, n, err, i)
		}

		var created string
		b.run(t, vp.name+": dispatcher creates",
			login("dana-"+vp.name),
			fillRide,
			chromedp.WaitVisible(sel("ride-created")),
			chromedp.Text(sel("ride-created-number"), &created),
		)
		if strings.ReplaceAll(created, " ", "") != fmt.Sprintf("+31970000009%d", i) {
			t.Errorf("%s: ride created on %q", vp.name, created)
		}

		var who, what string
		var wide bool
		b.run(t, vp.name+": audit lists it",
			chromedp.Navigate(b.base+"/audit?action=ride.create&actor="+strings.ReplaceAll(dispatcherName, " ", "+")),
			chromedp.WaitVisible(sel("audit-row")),
			chromedp.Text(sel("audit-who"), &who),
			chromedp.Text(sel("audit-what"), &what),
			// The table scrolls within the page, not the page sideways (the
			// header's own width is the mobile layout's business).
			chromedp.Evaluate(`document.querySelector('.table-scroll').getBoundingClientRect().right > window.innerWidth`, &wide),
		)
		if strings.TrimSpace(who) != dispatcherName || what != "ride.create" {
			t.Errorf("%s: audit row %q %q; want ride.create by %s", vp.name, who, what, dispatcherName)
		}
		if wide {
			t.Errorf("%s: the audit table runs past the screen", vp.name)
		}
		b.screenshot(t, vp.name+"-audit")
	}
}
