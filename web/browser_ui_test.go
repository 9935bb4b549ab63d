package web

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"birdcar/sql/ride"
)

// uiStack is the browser stack with its domain Service at hand, to make
// sample data without clicking it all in.
type uiStack struct {
	*browserStack
	rides *ride.Service
}

func startUIStack(t *testing.T) *uiStack {
	t.Helper()
	var rides *ride.Service
	b := startBrowserStack(t, func(_ *river.Client[pgx.Tx], s *Server) { rides = s.Rides })
	return &uiStack{browserStack: b, rides: rides}
}

// uiSample is what the pages list: people, numbers, an active ride and
// one in its grace period, and their notifications.
type uiSample struct {
	customer, driver ride.Person
	active, grace    ride.Ride
}

func (b *uiStack) sample(t *testing.T) uiSample {
	t.Helper()
	ctx := t.Context()
	person := func(role ride.Role, name, phone string) ride.Person {
		p, err := b.rides.CreatePerson(ctx, role, ride.PersonInput{Name: name, Phone: phone})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	s := uiSample{
		customer: person(ride.RoleCustomer, "Caitlin Featherstonehaugh-Montgomery", "+31611111111"),
		driver:   person(ride.RoleDriver, "Dave", "+31622222222"),
	}
	other := person(ride.RoleCustomer, "Ann", "+31633333333")
	for _, n := range []string{"+3197010000001", "+3197010000002", "+447700900202"} {
		if _, err := b.rides.AddNumber(ctx, ride.NumberInput{Number: n}); err != nil {
			t.Fatal(err)
		}
	}
	create := func(c ride.Person) ride.Ride {
		r, err := b.rides.CreateRide(ctx, ride.NewRide{CustomerID: c.ID, DriverID: s.driver.ID,
			Start: "Damrak 1, 1012 LG Amsterdam", Destination: "Schiphol Airport, Departures Hall 2", PickupAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	s.active = create(s.customer)
	s.grace = create(other)
	var err error
	if s.grace, err = b.rides.EndRide(ctx, s.grace.ID, ride.RideCompleted); err != nil {
		t.Fatal(err)
	}
	return s
}

// voice asks the live voice webhook how a call from caller to proxy is
// answered, as MessageBird would.
func (b *uiStack) voice(t *testing.T, caller, proxy string) string {
	t.Helper()
	q := url.Values{"source": {strings.TrimPrefix(caller, "+")}, "destination": {strings.TrimPrefix(proxy, "+")}, "callID": {fmt.Sprintf("ui-%d", time.Now().UnixNano())}}
	resp, err := http.Get(b.base + "/webhook-voice?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("voice webhook: %d %s", resp.StatusCode, body)
	}
	return string(body)
}

func (b *uiStack) login(t *testing.T) {
	t.Helper()
	b.run(t, "log in",
		b.logIn(browserUser, browserPassword),
		chromedp.WaitVisible(sel("count-active")),
	)
}

// disconnect ends or cuts short a ride from its page, through the
// confirmation, choosing to disconnect now; opener is the button that
// asks (ride-cancel, ride-complete or ride-disconnect).
func (b *uiStack) disconnect(t *testing.T, r ride.Ride, opener string) string {
	t.Helper()
	var msg string
	actions := []chromedp.Action{
		chromedp.Navigate(fmt.Sprintf("%s/rides/%d", b.base, r.ID)),
		chromedp.WaitVisible(sel(opener)),
		chromedp.Click(sel(opener)),
		chromedp.WaitVisible(sel("ride-confirm")),
	}
	if opener != "ride-disconnect" {
		actions = append(actions, chromedp.Click(sel("ride-routing-now")))
	}
	actions = append(actions,
		chromedp.Click(sel("ride-confirm-submit")),
		chromedp.WaitVisible(sel("ride-message")),
		chromedp.Text(sel("ride-message"), &msg),
	)
	b.run(t, "disconnect ride "+itoa(r.ID), actions...)
	return msg
}

const apology = "Sorry, we cannot identify your transaction"

// TestBrowser_DisconnectNow ends a ride from the console, confirming and
// choosing to disconnect now, on a desktop and on a phone: the very next
// call between its parties hears the apology (this process cut the
// routes in memory before answering). On the phone the ride is one in its
// grace period, whose rest is cut off.
func TestBrowser_DisconnectNow(t *testing.T) {
	b := startUIStack(t)
	s := b.sample(t)
	b.login(t)

	t.Run("desktop, an active ride", func(t *testing.T) {
		b.run(t, "desktop", chromedp.EmulateViewport(1280, 900))
		if got := b.voice(t, s.customer.Phone, s.active.ProxyNumber); !strings.Contains(got, "<Transfer") {
			t.Fatalf("before: %s; want a transfer", got)
		}
		// Cancel asks first; Back leaves the ride as it was.
		b.run(t, "ask, then back",
			chromedp.Navigate(fmt.Sprintf("%s/rides/%d", b.base, s.active.ID)),
			chromedp.Click(sel("ride-cancel")),
			chromedp.WaitVisible(sel("ride-confirm")),
			chromedp.Click(sel("ride-confirm-back")),
			chromedp.WaitVisible(sel("ride-cancel")),
		)
		if got := b.voice(t, s.customer.Phone, s.active.ProxyNumber); !strings.Contains(got, "<Transfer") {
			t.Fatalf("after Back: %s; want the ride still routing", got)
		}
		if msg := b.disconnect(t, s.active, "ride-cancel"); !strings.Contains(msg, "disconnected") {
			t.Errorf("message %q", msg)
		}
		for _, caller := range []string{s.customer.Phone, s.driver.Phone} {
			if got := b.voice(t, caller, s.active.ProxyNumber); !strings.Contains(got, apology) {
				t.Errorf("call right after disconnecting: %s; want the apology", got)
			}
		}
	})

	t.Run("phone, a ride in its grace period", func(t *testing.T) {
		b.run(t, "phone", chromedp.EmulateViewport(390, 844))
		other := b.partyOf(t, s.grace)
		if got := b.voice(t, other, s.grace.ProxyNumber); !strings.Contains(got, "<Transfer") {
			t.Fatalf("before: %s; want a transfer in the grace period", got)
		}
		var width int
		b.run(t, "confirmation fits", chromedp.Navigate(fmt.Sprintf("%s/rides/%d/end?routing=now", b.base, s.grace.ID)),
			chromedp.WaitVisible(sel("ride-confirm-submit")),
			chromedp.Evaluate(`document.documentElement.scrollWidth`, &width))
		if width > 390 {
			t.Errorf("the confirmation is %d px wide at 390", width)
		}
		if msg := b.disconnect(t, s.grace, "ride-disconnect"); !strings.Contains(msg, "disconnected") {
			t.Errorf("message %q", msg)
		}
		if got := b.voice(t, other, s.grace.ProxyNumber); !strings.Contains(got, apology) {
			t.Errorf("call right after cutting the grace short: %s; want the apology", got)
		}
	})
}

// partyOf is the customer's phone of r, read back from the domain.
func (b *uiStack) partyOf(t *testing.T, r ride.Ride) string {
	t.Helper()
	got, err := b.rides.Ride(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got.CustomerPhone
}

// screenshotsEnv names a directory to save a screenshot of every page
// into, at both widths, as TestBrowser_Phone walks them (docs/screenshots
// is made so: see its README).
const screenshotsEnv = "BIRDCAR_SCREENSHOTS"

// TestBrowser_Phone checks every console page at 390 px: none scrolls
// sideways, the header's menu button shows the navigation and Log out,
// and the simulator's outbox rows stay compact. It walks the same pages on
// a desktop first, where nothing may scroll sideways either.
func TestBrowser_Phone(t *testing.T) {
	b := startUIStack(t)
	s := b.sample(t)
	shots := os.Getenv(screenshotsEnv)

	var view string // "desktop" or "phone"
	var maxWidth int
	wide := func(t *testing.T, name, path, ready string) {
		t.Helper()
		var width int
		b.run(t, "open "+path,
			chromedp.Navigate(b.base+path),
			chromedp.WaitReady(ready),
			chromedp.Evaluate(`document.documentElement.scrollWidth`, &width),
		)
		if width > maxWidth {
			b.screenshot(t, "wide "+path)
			t.Errorf("%s: %s is %d px wide at %d px", view, path, width, maxWidth)
		}
		if shots != "" && name != "" {
			var png []byte
			b.run(t, "screenshot "+path, chromedp.FullScreenshot(&png, 100))
			if err := os.WriteFile(filepath.Join(shots, view+"-"+name+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	pages := []struct{ name, path, ready string }{
		{"overview", "/", sel("count-active")},
		{"rides", "/rides", sel("ride-row")},
		{"rides-search", "/rides?q=" + url.QueryEscape("06 1111 1111"), sel("ride-row")},
		{"ride", fmt.Sprintf("/rides/%d", s.active.ID), sel("timeline")},
		{"ride-end", fmt.Sprintf("/rides/%d/end?status=cancelled", s.active.ID), sel("ride-confirm")},
		{"ride-grace", fmt.Sprintf("/rides/%d", s.grace.ID), sel("ride-disconnect")},
		{"people", "/people", sel("customers")},
		{"person-edit", fmt.Sprintf("/people/customers/%d/edit", s.customer.ID), sel("customer-edit-row")},
		{"numbers", "/numbers", sel("numbers")},
		{"sends", "/sends", "main"},
		{"simulator", "/simulator", sel("outbox-row")},
		{"audit", "/audit", sel("audit-row")},
		{"operators", "/operators", "main"},
		{"tokens", "/tokens", "main"},
		{"account", "/account", "main"},
		{"forbidden", forbiddenPath + "?need=admin&what=" + url.QueryEscape("managing operators"), "main"},
		{"not-found", "/rides/999999", "main"},
		{"", "/no-such-page", "main"},
	}
	for _, v := range []struct {
		name          string
		width, height int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		view, maxWidth = v.name, int(v.width)
		b.run(t, v.name, chromedp.EmulateViewport(v.width, v.height))
		b.run(t, "log out", network.ClearBrowserCookies())
		wide(t, "login", "/login", sel("login-form"))
		b.login(t)
		for _, p := range pages {
			wide(t, p.name, p.path, p.ready)
		}
	}

	// The new-ride form after a failed submit: every error shown, the
	// first invalid field focused, still no sideways scroll.
	var focused string
	var errs int
	b.run(t, "failed submit",
		chromedp.Navigate(b.base+"/rides"),
		chromedp.WaitVisible(sel("ride-submit")),
		chromedp.SetValue(sel("ride-pickup_at"), ""),
		chromedp.Click(sel("ride-submit")),
		chromedp.WaitVisible(sel("error-customer_id")),
		chromedp.Evaluate(`document.querySelectorAll('#ride-create .field-error').length`, &errs),
		chromedp.Poll(`document.activeElement && document.activeElement.id`, &focused, chromedp.WithPollingTimeout(5*time.Second)),
	)
	if errs != 5 || focused != "ride-customer_id" {
		t.Errorf("after a failed submit: %d errors, focus on %q; want 5 and the customer", errs, focused)
	}
	wide(t, "", "/rides", sel("ride-row")) // and the page, reloaded, still fits

	// The header: navigation folded behind the menu button, Log out in it.
	var expanded string
	var navShown, logoutShown bool
	b.run(t, "menu",
		chromedp.Navigate(b.base+"/"),
		chromedp.WaitVisible(sel("menu-toggle")),
		chromedp.Evaluate(`document.querySelector('#topnav').offsetParent !== null`, &navShown),
	)
	if navShown {
		t.Error("the navigation shows before the menu is opened")
	}
	b.run(t, "open menu",
		chromedp.Click(sel("menu-toggle")),
		chromedp.WaitVisible(sel("logout")),
		chromedp.AttributeValue(sel("menu-toggle"), "aria-expanded", &expanded, nil),
		chromedp.Evaluate(`(() => { const r = document.querySelector('[data-testid="logout"]').getBoundingClientRect(); return r.right <= 390 && r.left >= 0 })()`, &logoutShown),
	)
	if expanded != "true" || !logoutShown {
		t.Errorf("menu open: aria-expanded %q, Log out within the screen %v", expanded, logoutShown)
	}
	var height float64
	b.run(t, "header height",
		chromedp.Click(sel("menu-toggle")),
		chromedp.WaitNotVisible(sel("logout")),
		chromedp.Evaluate(`document.querySelector('.topbar').getBoundingClientRect().height`, &height),
	)
	// A bar for the brand and the menu button, and a line for the search
	// box, which stays out of the menu.
	if height > 110 {
		t.Errorf("the closed header is %.0f px tall, want a compact bar", height)
	}
	b.run(t, "rides through the menu",
		chromedp.Click(sel("menu-toggle")),
		chromedp.Click(sel("nav-rides")),
		chromedp.WaitVisible(sel("ride-form")),
	)

	// The simulator's outbox: compact rows.
	var tallest float64
	b.run(t, "outbox",
		chromedp.Navigate(b.base+"/simulator"),
		chromedp.WaitVisible(sel("outbox-row")),
		chromedp.Evaluate(`Math.max(...[...document.querySelectorAll('[data-testid="outbox-row"]')].map(r => r.getBoundingClientRect().height))`, &tallest),
	)
	if tallest > 90 {
		t.Errorf("the tallest outbox row is %.0f px at 390 px, want compact", tallest)
	}
}
