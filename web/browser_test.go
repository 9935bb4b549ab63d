package web

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"golang.org/x/crypto/bcrypt"

	"riverqueue.com/riverui"

	"birdcar/jobs"
	"birdcar/jobs/messagebird"
	"birdcar/sql/admin"
	"birdcar/sql/ride"
	"birdcar/sql/ride/phone"
)

// browserStack is BirdCar as go run starts it (sandbox sender, River
// workers, a real listener) with a headless Chromium to drive its console.
type browserStack struct {
	base string
	ctx  context.Context // the browser tab
}

const browserUser, browserPassword = "admin", "correct horse battery staple"

func startBrowserStack(t *testing.T, mount ...func(*river.Client[pgx.Tx], *Server)) *browserStack {
	t.Helper()
	return startBrowserStackJobs(t, jobs.Config{Sender: messagebird.Sandbox{}}, mount...)
}

// startBrowserStackJobs is startBrowserStack with the workers' settings
// in cfg (a sender that fails, a slower retry policy).
func startBrowserStackJobs(t *testing.T, cfg jobs.Config, mount ...func(*river.Client[pgx.Tx], *Server)) *browserStack {
	t.Helper()
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("browser tests need Debian's chromium package (apt-get install chromium); .ci/run installs it")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(browserPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	base := serveLiveJobs(t, cfg,
		&ride.Service{DefaultCountry: "NL", GracePeriod: time.Hour, PoolLowWatermark: 1},
		&Server{Sandbox: true, Admin: &admin.Service{User: browserUser, PasswordHash: hash}}, mount...)

	// Not t.TempDir: Chromium's helpers may still write to the profile
	// while the test ends, which fails TempDir's strict removal.
	profile, err := os.MkdirTemp("", "birdcar-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first run starts the browser and must not carry a deadline: the
	// browser lives as long as that run's context.
	if err := chromedp.Run(tab); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// A script that runs, whatever it is, shows as a dialog here.
	chromedp.ListenTarget(tab, func(ev any) {
		if d, ok := ev.(*cdppage.EventJavascriptDialogOpening); ok {
			t.Errorf("the page opened a %s dialog: %q", d.Type, d.Message)
			go func() { _ = chromedp.Run(tab, cdppage.HandleJavaScriptDialog(true)) }()
		}
	})
	return &browserStack{base: base, ctx: tab}
}

// run performs actions with a deadline, failing the test with what it was doing.
func (b *browserStack) run(t *testing.T, what string, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.screenshot(t, what)
		t.Fatalf("%s: %v", what, err)
	}
}

// screenshot keeps what the browser showed when a step failed.
func (b *browserStack) screenshot(t *testing.T, what string) {
	var png []byte
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)) == nil {
		path := fmt.Sprintf("%s/%s.png", os.TempDir(), strings.NewReplacer(" ", "-", "/", "-").Replace(t.Name()+"-"+what))
		if os.WriteFile(path, png, 0o644) == nil {
			t.Logf("screenshot: %s", path)
		}
	}
}

// logIn signs in through the login form; wait after it for what the
// page it lands on shows.
func (b *browserStack) logIn(user, password string) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.Navigate(b.base + "/login"),
		chromedp.WaitVisible(sel("login-user")),
		chromedp.SendKeys(sel("login-user"), user),
		chromedp.SendKeys(sel("login-password"), password),
		chromedp.Click(sel("login-submit")),
	}
}

func sel(testid string) string { return `[data-testid="` + testid + `"]` }

func TestBrowser_ConsoleEndToEnd(t *testing.T) {
	b := startBrowserStack(t)

	// Log in.
	b.run(t, "log in",
		b.logIn(browserUser, browserPassword),
		chromedp.WaitVisible(sel("count-active")),
	)
	var h1 string
	b.run(t, "overview", chromedp.Text(`h1`, &h1))
	if h1 != "Overview" {
		t.Fatalf("after login: %q, want the overview", h1)
	}

	// People: an invalid phone is refused in place, a valid one is added.
	var phoneErr string
	b.run(t, "invalid customer",
		chromedp.Navigate(b.base+"/people"),
		chromedp.WaitVisible(sel("customer-add-name")),
		chromedp.SendKeys(sel("customer-add-name"), "Caitlin"),
		chromedp.SendKeys(sel("customer-add-phone"), "06-CALL-ME"),
		chromedp.Click(sel("customer-add-submit")),
		chromedp.WaitVisible(sel("customer-phone-error")),
		chromedp.Text(sel("customer-phone-error"), &phoneErr),
	)
	if !strings.Contains(phoneErr, "digits") {
		t.Errorf("phone error %q does not say what is wrong", phoneErr)
	}
	b.run(t, "valid customer",
		chromedp.Evaluate(`document.querySelector('[data-testid="customer-add-phone"]').value = ""`, nil),
		chromedp.SendKeys(sel("customer-add-phone"), "06 1111 1111"),
		chromedp.Click(sel("customer-add-submit")),
		chromedp.WaitVisible(sel("customer-row")),
	)
	b.run(t, "driver",
		chromedp.SendKeys(sel("driver-add-name"), "Dave"),
		chromedp.SendKeys(sel("driver-add-phone"), "+31 6 2222 2222"),
		chromedp.Click(sel("driver-add-submit")),
		chromedp.WaitVisible(sel("driver-row")),
	)
	// A name that is markup shows as text and runs nothing.
	var xssRow string
	b.run(t, "script name",
		chromedp.SendKeys(sel("customer-add-name"), "<script>alert(1)</script>"),
		chromedp.SendKeys(sel("customer-add-phone"), "06 3333 3333"),
		chromedp.Click(sel("customer-add-submit")),
		chromedp.WaitVisible(`//tr[@data-testid="customer-row"][contains(., "<script>alert(1)</script>")]`, chromedp.BySearch),
		chromedp.Text(sel("customers"), &xssRow),
	)
	if !strings.Contains(xssRow, "<script>alert(1)</script>") {
		t.Errorf("the script name is not shown as text: %q", xssRow)
	}

	// A number for the pool.
	b.run(t, "number",
		chromedp.Navigate(b.base+"/numbers"),
		chromedp.WaitVisible(sel("number-add-number")),
		chromedp.SendKeys(sel("number-add-number"), "+3197000000001"),
		chromedp.Click(sel("number-add-submit")),
		chromedp.WaitVisible(sel("number-row")),
	)

	// Create a ride: it appears without a reload.
	var created, marker string
	b.run(t, "create ride",
		chromedp.Navigate(b.base+"/rides"),
		chromedp.WaitVisible(sel("ride-form")),
		chromedp.Evaluate(`window.__noReload = "yes"`, nil),
		chromedp.SetValue(sel("ride-customer_id"), "1"),
		chromedp.SetValue(sel("ride-driver_id"), "1"),
		chromedp.SendKeys(sel("ride-start"), "Dam 1, Amsterdam"),
		chromedp.SendKeys(sel("ride-destination"), "Schiphol"),
		chromedp.Click(sel("ride-submit")),
		chromedp.WaitVisible(sel("ride-created")),
		chromedp.Text(sel("ride-created-number"), &created),
		chromedp.WaitVisible(sel("ride-row")),
		chromedp.Evaluate(`window.__noReload || ""`, &marker),
	)
	if created != phone.Format("+3197000000001") || marker != "yes" {
		t.Errorf("ride created on %q (reloaded: %v), want +3197000000001 without a reload", created, marker != "yes")
	}

	// Its two notifications go from queued to sent on the ride's page.
	b.run(t, "notifications sent",
		chromedp.Navigate(b.base+"/rides/1"),
		chromedp.WaitVisible(sel("timeline")),
		chromedp.Poll(`document.querySelectorAll('[data-testid="timeline-out"] [data-testid="timeline-status"]').length == 2 &&
			[...document.querySelectorAll('[data-testid="timeline-out"] [data-testid="timeline-status"]')].every(e => e.textContent.trim() == "sent")`, nil,
			chromedp.WithPollingTimeout(30*time.Second)),
	)

	// The customer texts through the simulator: it reaches the timeline and the outbox.
	var forward string
	b.run(t, "simulate SMS",
		chromedp.Navigate(b.base+"/simulator"),
		chromedp.WaitVisible(sel("sim-form")),
		chromedp.SetValue(sel("sim-as"), "customer"),
		chromedp.SendKeys(sel("sim-text"), "I'm at the main entrance"),
		chromedp.Click(sel("sim-sms")),
		chromedp.WaitVisible(sel("sim-forward")),
		chromedp.Text(sel("sim-forward"), &forward),
		chromedp.Poll(`[...document.querySelectorAll('[data-testid="outbox-row"]')].some(r => r.textContent.includes("I'm at the main entrance"))`, nil,
			chromedp.WithPollingTimeout(30*time.Second)),
	)
	if !strings.Contains(forward, phone.Format("+31622222222")) {
		t.Errorf("simulated SMS forwarded as %q, want to the driver", forward)
	}
	var transfer string
	b.run(t, "simulate call",
		chromedp.SetValue(sel("sim-as"), "driver"),
		chromedp.Click(sel("sim-call")),
		chromedp.WaitVisible(sel("sim-transfer")),
		chromedp.Text(sel("sim-transfer"), &transfer),
	)
	if !strings.Contains(transfer, phone.Format("+31611111111")) {
		t.Errorf("simulated call answered %q, want a transfer to the customer", transfer)
	}
	b.run(t, "timeline shows SMS and call",
		chromedp.Navigate(b.base+"/rides/1"),
		chromedp.Poll(`document.querySelector('[data-testid="timeline"]').textContent.includes("I'm at the main entrance") &&
			document.querySelectorAll('[data-testid="timeline-call"]').length == 1`, nil, chromedp.WithPollingTimeout(30*time.Second)),
	)

	// End the ride (it asks first): it stays reachable for the grace period.
	var status string
	b.run(t, "end ride",
		chromedp.Click(sel("ride-complete")),
		chromedp.WaitVisible(sel("ride-confirm")),
		chromedp.Click(sel("ride-confirm-submit")),
		chromedp.WaitVisible(sel("ride-message")),
		chromedp.Text(sel("ride-summary")+" "+sel("ride-status"), &status),
	)
	if status != "completed, in grace" {
		t.Errorf("ended ride shows %q", status)
	}

	// A state-changing request without the CSRF token is refused.
	var code int
	b.run(t, "post without CSRF token",
		chromedp.Evaluate(`fetch("/rides/1/end", {method: "POST", body: new URLSearchParams({status: "cancelled"})}).then(r => r.status)`, &code,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
	)
	if code != 403 {
		t.Errorf("POST without a CSRF token: %d, want 403", code)
	}
}

// TestBrowser_RiverUI loads River UI under the console's security headers
// (a policy of frame-ancestors only): its scripts run, it calls its API,
// and the browser reports no policy violation.
func TestBrowser_RiverUI(t *testing.T) {
	b := startBrowserStack(t, func(client *river.Client[pgx.Tx], srv *Server) {
		h, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(client, nil),
			Logger: srv.Logger, Prefix: riverUIPrefix})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		srv.RiverUI = h
	})
	var violations []string
	var queues bool
	b.run(t, "River UI",
		// Every policy violation the page meets is kept for the test to read.
		chromedp.ActionFunc(func(ctx context.Context) error {
			_, err := cdppage.AddScriptToEvaluateOnNewDocument(`window.__violations = [];
				document.addEventListener("securitypolicyviolation", e => window.__violations.push(e.violatedDirective + " " + e.blockedURI));`).Do(ctx)
			return err
		}),
		b.logIn(browserUser, browserPassword),
		chromedp.WaitVisible(sel("count-active")),
		chromedp.Navigate(b.base+"/riverui/queues"),
		// River UI's queue list comes from its API: the queue the workers poll shows.
		chromedp.Poll(`location.pathname.startsWith("/riverui/") && document.body.innerText.includes("default")`, &queues,
			chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.Evaluate(`window.__violations`, &violations),
	)
	if len(violations) > 0 {
		t.Errorf("policy violations: %q", violations)
	}
}
