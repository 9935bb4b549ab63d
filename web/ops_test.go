package web

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"birdcar/components"
	"birdcar/sql/admin"
	"birdcar/sql/ride"
)

// operator adds an operator with role, named after the test so parallel
// tests never wait on each other's user names, and signs them in.
func (b *testBundle) operator(t *testing.T, name string, role admin.Role) (admin.Operator, *signedIn) {
	t.Helper()
	username := strings.ToLower(name) + "-" + strings.NewReplacer("/", "-", " ", "-").Replace(strings.ToLower(t.Name()))
	if len(username) > 64 {
		username = username[:64]
	}
	op, err := b.srv.Admin.AddOperator(t.Context(), admin.NewOperator{Name: name, Username: username, Role: role, Password: testAdminPassword})
	if err != nil {
		t.Fatal(err)
	}
	cookie, csrf := b.sessionOf(t, op)
	return op, &signedIn{b: b, cookie: cookie, csrf: csrf}
}

// signedIn is an operator's browser: their cookie and CSRF token.
type signedIn struct {
	b            *testBundle
	cookie, csrf string
}

// do sends a console request as the operator and parses the answer.
func (s *signedIn) do(t *testing.T, method, path string, form url.Values, htmx bool) (*http.Response, *goquery.Document) {
	t.Helper()
	var in io.Reader
	if form != nil {
		in = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, in)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if htmx {
		req.Header.Set(hxRequest, "true")
	}
	req.Header.Set("Cookie", s.cookie)
	req.Header.Set(components.CSRFHeader, s.csrf)
	r := s.b.do(t, req)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return r, doc
}

// rideForm is the console's create-a-ride form for c and d, picked up in
// two hours.
func (b *testBundle) rideForm(c, d ride.Person) url.Values {
	return url.Values{"customer_id": {itoa(c.ID)}, "driver_id": {itoa(d.ID)}, "start": {"Dam 1"},
		"destination": {"Schiphol"}, "pickup_at": {b.Clock.Now().Add(2 * time.Hour).In(b.Rides.Location()).Format("2006-01-02T15:04")}}
}

func TestRoles_ViewerCannotCreateARideDispatcherCan(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, d, _ := b.People(t, 2)
	_, viewer := b.operator(t, "Vera", admin.RoleViewer)
	_, dispatcher := b.operator(t, "Dana", admin.RoleDispatcher)

	// A form post: the 403 page says what is needed.
	r, doc := viewer.do(t, "POST", "/rides", b.rideForm(c, d), false)
	msg := doc.Find(sel("error")).Text()
	if r.StatusCode != 403 || !strings.Contains(msg, "dispatcher role") || !strings.Contains(msg, "Vera (viewer)") {
		t.Errorf("viewer's ride: %d %q; want 403 saying the dispatcher role is needed", r.StatusCode, msg)
	}
	if doc.Find("h1, .topbar").Length() == 0 {
		t.Error("the 403 is not a whole page")
	}
	// htmx: sent to the 403 page, which htmx follows.
	r, _ = viewer.do(t, "POST", "/rides", b.rideForm(c, d), true)
	to := r.Header.Get(hxRedirect)
	if r.StatusCode != 403 || !strings.HasPrefix(to, forbiddenPath+"?need=dispatcher") {
		t.Fatalf("viewer's htmx ride: %d, HX-Redirect %q", r.StatusCode, to)
	}
	r, doc = viewer.do(t, "GET", to, nil, false)
	if r.StatusCode != 403 || !strings.Contains(doc.Find(sel("error")).Text(), "Managing rides, people and sends needs the dispatcher role") {
		t.Errorf("403 page: %d %q", r.StatusCode, doc.Find(sel("error")).Text())
	}
	if n, err := b.Rides.CountActiveRides(t.Context()); err != nil || n != 0 {
		t.Fatalf("the viewer's request made %d rides (%v)", n, err)
	}

	r, doc = dispatcher.do(t, "POST", "/rides", b.rideForm(c, d), true)
	if r.StatusCode != 200 || doc.Find(sel("ride-created-number")).Length() != 1 {
		t.Fatalf("dispatcher's ride: %d", r.StatusCode)
	}

	// The audit page lists the creation under the dispatcher's name.
	r, doc = dispatcher.do(t, "GET", "/audit?action=ride.create", nil, false)
	row := doc.Find(sel("audit-row"))
	if r.StatusCode != 200 || row.Length() != 1 || strings.TrimSpace(row.Find(sel("audit-who")).Text()) != "Dana" ||
		row.Find(sel("audit-what")).Text() != "ride.create" || row.Find(sel("audit-ride-link")).Length() != 1 {
		t.Errorf("audit page: %d, %d rows, who %q", r.StatusCode, row.Length(), row.Find(sel("audit-who")).Text())
	}
	// Filtering by someone else finds nothing; the filter stays in the form.
	_, doc = dispatcher.do(t, "GET", "/audit?actor=vera", nil, false)
	if v, _ := doc.Find(sel("audit-actor")).Attr("value"); doc.Find(sel("audit-row")).Length() != 0 || v != "vera" {
		t.Errorf("filtered by vera: %d rows, filter %q", doc.Find(sel("audit-row")).Length(), v)
	}
	// The ride's timeline says who created it.
	rides, err := b.Rides.ListRides(t.Context(), ride.RideFilter{Limit: 1})
	if err != nil || len(rides) != 1 {
		t.Fatal(rides, err)
	}
	_, doc = viewer.do(t, "GET", "/rides/"+itoa(rides[0].ID), nil, false)
	if got := doc.Find(sel("timeline-audit")).First().Text(); !strings.Contains(got, "Created by Dana") {
		t.Errorf("timeline's first audit item %q, want Created by Dana", got)
	}
}

func TestRoles_OneTableForEveryRoute(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, viewer := b.operator(t, "Vera", admin.RoleViewer)
	_, dispatcher := b.operator(t, "Dana", admin.RoleDispatcher)
	_, adm := b.operator(t, "Ann", admin.RoleAdmin)
	for _, tt := range []struct {
		who    *signedIn
		name   string
		method string
		path   string
		denied bool
	}{
		{viewer, "viewer", "GET", "/rides", false},
		{viewer, "viewer", "GET", "/people", false},
		{viewer, "viewer", "GET", "/account", false},
		{viewer, "viewer", "POST", "/people/customers", true},
		{viewer, "viewer", "POST", "/simulator", true},
		{viewer, "viewer", "POST", "/sends/1/retry", true},
		{viewer, "viewer", "GET", "/audit", true},
		{viewer, "viewer", "GET", "/operators", true},
		{dispatcher, "dispatcher", "GET", "/audit", false},
		{dispatcher, "dispatcher", "GET", "/numbers", false},
		{dispatcher, "dispatcher", "POST", "/numbers", true},
		{dispatcher, "dispatcher", "POST", "/numbers/1/enabled", true},
		{dispatcher, "dispatcher", "GET", "/riverui/", true},
		{dispatcher, "dispatcher", "GET", "/tokens", true},
		{dispatcher, "dispatcher", "POST", "/operators", true},
		// Fiber routes a path whatever its case: so must the rules.
		{viewer, "viewer", "GET", "/Operators", true},
		{viewer, "viewer", "GET", "/AUDIT", true},
		{dispatcher, "dispatcher", "POST", "/Operators", true},
		{dispatcher, "dispatcher", "POST", "/Tokens", true},
		{dispatcher, "dispatcher", "POST", "/NUMBERS", true},
		{dispatcher, "dispatcher", "GET", "/RiverUI/", true},
		{adm, "admin", "GET", "/operators", false},
		{adm, "admin", "GET", "/tokens", false},
		{adm, "admin", "POST", "/numbers", false},
	} {
		r, _ := tt.who.do(t, tt.method, tt.path, url.Values{}, false)
		if (r.StatusCode == 403) != tt.denied {
			t.Errorf("%s %s %s: %d, want denied %v", tt.name, tt.method, tt.path, r.StatusCode, tt.denied)
		}
	}
	// Pages offer no form a role cannot use, and say why.
	for _, tt := range []struct {
		who                *signedIn
		path, hidden, note string
	}{
		{viewer, "/rides", "ride-form", "ride-form-read-only"},
		{viewer, "/people", "customer-add", ""},
		{viewer, "/simulator", "sim-form", "sim-read-only"},
		{dispatcher, "/numbers", "number-add", "numbers-read-only"},
	} {
		_, doc := tt.who.do(t, "GET", tt.path, nil, false)
		if doc.Find(sel(tt.hidden)).Length() != 0 || (tt.note != "" && doc.Find(sel(tt.note)).Length() != 1) {
			t.Errorf("%s: offers %s (%d) or lacks %q", tt.path, tt.hidden, doc.Find(sel(tt.hidden)).Length(), tt.note)
		}
		_, doc = adm.do(t, "GET", tt.path, nil, false)
		if doc.Find(sel(tt.hidden)).Length() == 0 {
			t.Errorf("%s: an admin is not offered %s", tt.path, tt.hidden)
		}
	}
	// The top bar shows each role only what it may open, and the role.
	for _, tt := range []struct {
		who        *signedIn
		role       string
		sees, hide []string
	}{
		{viewer, "viewer", []string{"/account"}, []string{"/audit", "/operators", "/tokens", "/riverui/"}},
		{dispatcher, "dispatcher", []string{"/audit"}, []string{"/operators", "/tokens", "/riverui/"}},
		{adm, "admin", []string{"/audit", "/operators", "/tokens", "/riverui/"}, nil},
	} {
		_, doc := tt.who.do(t, "GET", "/rides", nil, false)
		if got := doc.Find(sel("user-role")).Text(); got != tt.role {
			t.Errorf("%s: role shown %q", tt.role, got)
		}
		for _, href := range tt.sees {
			if doc.Find(`.topbar a[href="`+href+`"]`).Length() != 1 {
				t.Errorf("%s does not see %s", tt.role, href)
			}
		}
		for _, href := range tt.hide {
			if doc.Find(`.topbar a[href="`+href+`"]`).Length() != 0 {
				t.Errorf("%s sees %s", tt.role, href)
			}
		}
	}
}

func TestOperatorsPage_AddChangeRoleDisable(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, adm := b.operator(t, "Ann", admin.RoleAdmin)
	vic, victim := b.operator(t, "Vic", admin.RoleDispatcher)

	// Victim is working.
	if r, _ := victim.do(t, "GET", "/rides", nil, false); r.StatusCode != 200 {
		t.Fatalf("victim's page: %d", r.StatusCode)
	}
	// Disabled by the admin: the very next request is a stranger's.
	r, _ := adm.do(t, "POST", "/operators/"+itoa(vic.ID)+"/disabled", url.Values{"disabled": {"true"}}, false)
	if r.StatusCode != 303 {
		t.Fatalf("disable: %d", r.StatusCode)
	}
	if r, _ := victim.do(t, "GET", "/rides", nil, false); r.StatusCode != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("a disabled operator's page: %d to %q; want the login", r.StatusCode, r.Header.Get("Location"))
	}
	if r, _ := victim.do(t, "POST", "/rides", url.Values{}, true); r.StatusCode != 401 {
		t.Errorf("a disabled operator's htmx post: %d, want 401", r.StatusCode)
	}
	_, doc := adm.do(t, "GET", r.Header.Get("Location"), nil, false)
	if got := doc.Find(sel("operators-notice")).Text(); !strings.Contains(got, "Vic is disabled") {
		t.Errorf("notice %q", got)
	}
	// A notice is the server's own: a link with words of someone else's
	// shows none.
	_, doc = adm.do(t, "GET", "/operators?notice=Call+us+on+%2B31&sig=x", nil, false)
	if doc.Find(sel("operators-notice")).Length() != 0 {
		t.Errorf("a forged notice is shown: %q", doc.Find(sel("operators-notice")).Text())
	}

	// Add one in the console; a bad field is shown in place.
	r, doc = adm.do(t, "POST", "/operators", url.Values{"name": {"Nia"}, "username": {"nia " + t.Name()}, "role": {"viewer"}, "password": {testAdminPassword}}, false)
	if r.StatusCode != 422 || doc.Find(sel("operator-username-error")).Text() == "" {
		t.Errorf("bad user name: %d %q", r.StatusCode, doc.Find(sel("operator-username-error")).Text())
	}
	username := "nia-ops-page"
	r, _ = adm.do(t, "POST", "/operators", url.Values{"name": {"Nia"}, "username": {username}, "role": {"viewer"}, "password": {testAdminPassword}}, false)
	if r.StatusCode != 303 {
		t.Fatalf("add: %d", r.StatusCode)
	}
	op, ok, err := b.srv.Admin.Login(t.Context(), username, testAdminPassword)
	if err != nil || !ok || op.Role != admin.RoleViewer || op.Name != "Nia" {
		t.Fatalf("the added operator: %+v, %v, %v", op, ok, err)
	}
	if r, _ = adm.do(t, "POST", "/operators/"+itoa(op.ID)+"/role", url.Values{"role": {"dispatcher"}}, false); r.StatusCode != 303 {
		t.Fatalf("change role: %d", r.StatusCode)
	}
	_, doc = adm.do(t, "GET", "/operators", nil, false)
	row := doc.Find(sel("operator-row") + `[data-username="` + username + `"]`)
	if v, _ := row.Find(sel("operator-role") + " option[selected]").Attr("value"); v != "dispatcher" {
		t.Errorf("Nia's role shown %q", v)
	}
	// Every step is in the audit log, under the admin's name.
	_, doc = adm.do(t, "GET", "/audit?action=operator&actor=Ann", nil, false)
	if n := doc.Find(sel("audit-row")).Length(); n != 3 {
		t.Errorf("%d operator entries by Ann, want 3 (disable, add, role)", n)
	}
}

func TestAccount_ChangeOwnPassword(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	op, me := b.operator(t, "Vera", admin.RoleViewer)
	const next = "a brand new password"
	r, doc := me.do(t, "POST", "/account/password", url.Values{"current_password": {"wrong one!"}, "new_password": {next}, "confirm": {next}}, false)
	if r.StatusCode != 422 || doc.Find(sel("current-password-error")).Text() == "" {
		t.Errorf("wrong current password: %d", r.StatusCode)
	}
	r, doc = me.do(t, "POST", "/account/password", url.Values{"current_password": {testAdminPassword}, "new_password": {next}, "confirm": {next + "x"}}, false)
	if r.StatusCode != 422 || doc.Find(sel("confirm-password-error")).Text() == "" {
		t.Errorf("confirmation differs: %d", r.StatusCode)
	}
	elsewhere := *me // the same operator in another browser (or a thief's)
	elsewhere.cookie, elsewhere.csrf = b.sessionOf(t, op)
	r, _ = me.do(t, "POST", "/account/password", url.Values{"current_password": {testAdminPassword}, "new_password": {next}, "confirm": {next}}, false)
	if r.StatusCode != 303 {
		t.Fatalf("change: %d", r.StatusCode)
	}
	if _, ok, _ := b.srv.Admin.Login(t.Context(), op.Username, next); !ok {
		t.Error("the new password does not work")
	}
	// This browser goes on in the new session the answer sets; every
	// other session ended with the old password.
	var fresh string
	for _, ck := range r.Cookies() {
		if ck.Name == sessionCookie {
			fresh = ck.Name + "=" + ck.Value
		}
	}
	me.cookie = fresh
	if r, _ := me.do(t, "GET", "/account", nil, false); r.StatusCode != 200 {
		t.Errorf("the changer's new session: %d", r.StatusCode)
	}
	if r, _ := elsewhere.do(t, "GET", "/account", nil, false); r.StatusCode != 303 {
		t.Errorf("another session after the change: %d, want 303 to the login", r.StatusCode)
	}
}

func TestAPI_ChangesAuditedUnderTheTokensName(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, d, _ := b.People(t, 2)
	_, adm := b.operator(t, "Ann", admin.RoleAdmin)

	// An admin makes a named token; the page shows it once.
	r, doc := adm.do(t, "POST", "/tokens", url.Values{"name": {"acme-backend"}}, false)
	secret := doc.Find(sel("token-secret")).Text()
	if r.StatusCode != 201 || secret == "" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("make token: %d, secret %q", r.StatusCode, secret)
	}
	if _, doc = adm.do(t, "GET", "/tokens", nil, false); doc.Find(sel("token-secret")).Length() != 0 || doc.Find(sel("token-row")).Length() != 1 {
		t.Error("the token list shows the secret again, or not the token")
	}
	body := map[string]any{"customer_id": c.ID, "driver_id": d.ID, "start": "Dam 1", "destination": "Schiphol",
		"pickup_at": b.Clock.Now().Add(time.Hour).Format(time.RFC3339)}
	var created rideJSON
	if r := b.apiAs(t, secret, "POST", "/api/v1/rides", body, &created); r.StatusCode != 201 {
		t.Fatalf("ride with the named token: %d", r.StatusCode)
	}
	// An env token is named by its place in API_TOKENS.
	if r := b.apiAs(t, testToken, "POST", "/api/v1/rides/"+itoa(created.ID)+"/end", map[string]any{}, nil); r.StatusCode != 200 {
		t.Fatalf("end: %d", r.StatusCode)
	}
	entries, _, err := b.Rides.AuditLog(t.Context(), ride.AuditFilter{RideID: created.ID})
	if err != nil || len(entries) != 2 {
		t.Fatal(entries, err)
	}
	for i, want := range []ride.AuditEntry{ // newest first
		{Action: ride.AuditRideEnd, Actor: ride.Actor{Kind: ride.ActorAPI, Name: "API_TOKENS #1"}},
		{Action: ride.AuditRideCreate, Actor: ride.Actor{Kind: ride.ActorAPI, Name: "acme-backend"}},
	} {
		if got := entries[i]; got.Action != want.Action || got.Actor != want.Actor {
			t.Errorf("entry %d: %s by %+v; want %s by %+v", i, got.Action, got.Actor, want.Action, want.Actor)
		}
	}
	// Idempotency keys stay per token: the same key under another token
	// is another request.
	key := "same-key-" + t.Name()
	r1, _ := b.apiKeyed(t, secret, "POST", "/api/v1/customers", key, `{"name":"Kay","phone":"+31655555555"}`)
	r2, _ := b.apiKeyed(t, testToken, "POST", "/api/v1/customers", key, `{"name":"Kay","phone":"+31655555555"}`)
	if r1.StatusCode != 201 || r2.StatusCode != 409 || r2.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("one key, two tokens: %d then %d (replayed %q); want 201 then a fresh 409", r1.StatusCode, r2.StatusCode, r2.Header.Get("Idempotent-Replayed"))
	}
	_, doc = adm.do(t, "GET", "/audit?actor=acme&action=ride.create", nil, false)
	if doc.Find(sel("audit-row")).Length() != 1 {
		t.Errorf("audit page by acme: %d rows", doc.Find(sel("audit-row")).Length())
	}

	// Revoked, it stops working at once.
	toks, err := b.srv.Admin.Tokens(t.Context())
	if err != nil || len(toks) != 1 {
		t.Fatal(toks, err)
	}
	if r, _ := adm.do(t, "POST", "/tokens/"+itoa(toks[0].ID)+"/revoke", url.Values{}, false); r.StatusCode != 303 {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	if r := b.apiAs(t, secret, "GET", "/api/v1/rides", nil, nil); r.StatusCode != 401 {
		t.Errorf("a revoked token: %d, want 401", r.StatusCode)
	}
}

func TestAPI_EnvTokenNamedByItsPlace(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var n struct{ Number string }
	if r := b.api(t, "POST", "/api/v1/numbers", map[string]string{"number": "+3197000000077"}, &n); r.StatusCode != 201 {
		t.Fatalf("add number: %d", r.StatusCode)
	}
	entries, _, err := b.Rides.AuditLog(t.Context(), ride.AuditFilter{Action: ride.AuditNumberAdd})
	if err != nil || len(entries) != 1 || entries[0].Actor.Name != "API_TOKENS #1" || entries[0].Actor.Kind != ride.ActorAPI {
		t.Errorf("number added by %+v (%v), want API_TOKENS #1", entries, err)
	}
}

// apiAs calls the JSON API with token and decodes the answer into out.
func (b *testBundle) apiAs(t *testing.T, token, method, path string, body any, out any) *http.Response {
	t.Helper()
	var in io.Reader
	if body != nil {
		in = strings.NewReader(mustJSON(t, body))
	}
	req := httptest.NewRequest(method, path, in)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp := b.do(t, req)
	if out != nil {
		if err := decodeBody(resp, out); err != nil {
			t.Fatalf("%s %s: decode %d answer: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp
}

func TestAuditPage_FiltersInTheURLAndPages(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, adm := b.operator(t, "Ann", admin.RoleAdmin)
	for i := range auditPageSize + 5 {
		b.Number(t, "+31970000"+itoa(int64(1000+i)), "NL")
	}
	// A bad filter is said in place, with the form kept.
	r, doc := adm.do(t, "GET", "/audit?from=yesterday&actor=x", nil, false)
	if r.StatusCode != 422 || !strings.Contains(doc.Find(sel("audit-error")).Text(), "YYYY-MM-DD") {
		t.Errorf("bad date: %d %q", r.StatusCode, doc.Find(sel("audit-error")).Text())
	}
	// The first page is full and links to the next with the same filter.
	day := b.Clock.Now().Format(time.DateOnly)
	r, doc = adm.do(t, "GET", "/audit?action=number&from="+day+"&to="+day, nil, false)
	next, _ := doc.Find(sel("audit-next")).Attr("href")
	if r.StatusCode != 200 || doc.Find(sel("audit-row")).Length() != auditPageSize || !strings.Contains(next, "action=number") || !strings.Contains(next, "cursor=") {
		t.Fatalf("first page: %d, %d rows, next %q", r.StatusCode, doc.Find(sel("audit-row")).Length(), next)
	}
	if v, _ := doc.Find(sel("audit-from")).Attr("value"); v != day {
		t.Errorf("the from filter is not kept: %q", v)
	}
	_, doc = adm.do(t, "GET", next, nil, false)
	if n := doc.Find(sel("audit-row")).Length(); n != 5 || doc.Find(sel("audit-next")).Length() != 0 {
		t.Errorf("second page: %d rows (want 5) and a next link %v", n, doc.Find(sel("audit-next")).Length() != 0)
	}
	// Another day has nothing.
	_, doc = adm.do(t, "GET", "/audit?from="+b.Clock.Now().AddDate(0, 0, 1).Format(time.DateOnly), nil, false)
	if doc.Find(sel("audit-empty")).Length() != 1 {
		t.Error("a later day lists entries")
	}
}

// invalidFields checks that each of ids is marked invalid, described by
// its error, and that the first of them alone has the focus.
func invalidFields(t *testing.T, doc *goquery.Document, ids ...string) {
	t.Helper()
	for i, id := range ids {
		in := doc.Find("#" + id)
		desc, _ := in.Attr("aria-describedby")
		if v, _ := in.Attr("aria-invalid"); v != "true" || desc == "" || strings.TrimSpace(doc.Find("#"+desc).Text()) == "" {
			t.Errorf("%s: aria-invalid %q, described by %q (%q)", id, v, desc, doc.Find("#"+desc).Text())
		}
		if _, focus := in.Attr("autofocus"); focus != (i == 0) {
			t.Errorf("%s: autofocus %v, want %v", id, focus, i == 0)
		}
	}
	if n := doc.Find("[autofocus]").Length(); n != 1 {
		t.Errorf("%d elements with autofocus, want 1", n)
	}
}

func TestOperatorsPage_EveryFieldErrorAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, adm := b.operator(t, "Ann", admin.RoleAdmin)
	r, doc := adm.do(t, "POST", "/operators", url.Values{"name": {""}, "username": {"no spaces"}, "role": {"boss"}, "password": {"short"}}, false)
	if r.StatusCode != 422 {
		t.Fatalf("bad form: %d", r.StatusCode)
	}
	invalidFields(t, doc, "operator-name", "operator-username", "operator-new-role", "operator-password")
	if n := doc.Find("[data-testid=operator-add] .field-error").Length(); n != 4 {
		t.Errorf("%d field errors, want 4", n)
	}
	// What was typed stays, but the password.
	if v, _ := doc.Find(sel("operator-username")).Attr("value"); v != "no spaces" {
		t.Errorf("user name kept as %q", v)
	}
	if v, _ := doc.Find(sel("operator-password")).Attr("value"); v != "" {
		t.Errorf("password echoed: %q", v)
	}
	// Only the later fields wrong: the focus goes to the first of them.
	_, doc = adm.do(t, "POST", "/operators", url.Values{"name": {"Nia"}, "username": {"nia-ok"}, "role": {"viewer"}, "password": {"short"}}, false)
	invalidFields(t, doc, "operator-password")
	// The token form's one field too.
	r, doc = adm.do(t, "POST", "/tokens", url.Values{"name": {" "}}, false)
	if r.StatusCode != 422 {
		t.Errorf("bad token name: %d", r.StatusCode)
	}
	invalidFields(t, doc, "token-name")
}

func TestAccount_EveryFieldErrorAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	op, me := b.operator(t, "Vera", admin.RoleViewer)
	_, doc := me.do(t, "GET", "/account", nil, false)
	action, _ := doc.Find(sel("password-form")).Attr("action")
	if action != "/account" {
		t.Fatalf("the password form posts to %q, want the page's own address", action)
	}
	r, doc := me.do(t, "POST", action, url.Values{"current_password": {"wrong one!"}, "new_password": {"short"}, "confirm": {"other"}}, false)
	if r.StatusCode != 422 {
		t.Fatalf("bad form: %d", r.StatusCode)
	}
	invalidFields(t, doc, "current-password", "new-password", "confirm-password")
	if _, ok, _ := b.srv.Admin.Login(t.Context(), op.Username, testAdminPassword); !ok {
		t.Error("a refused change changed the password")
	}
	// A good new password, mistyped the second time: the current one is
	// still checked, so both are said.
	_, doc = me.do(t, "POST", action, url.Values{"current_password": {"wrong one!"}, "new_password": {"a long new password"}, "confirm": {"a long new passwore"}}, false)
	invalidFields(t, doc, "current-password", "confirm-password")
	// The old address sends a reload of it to the page.
	if r, _ := me.do(t, "GET", "/account/password", nil, false); r.StatusCode != 303 || r.Header.Get("Location") != "/account" {
		t.Errorf("GET /account/password: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestAccount_FixedPasswordSaysSoAndHasNoForm(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	first, me := b.operator(t, "Ann", admin.RoleAdmin)
	_, other := b.operator(t, "Otto", admin.RoleAdmin)
	b.srv.Admin.User, b.srv.Admin.PasswordFixed = first.Username, true

	r, doc := me.do(t, "GET", "/account", nil, false)
	if r.StatusCode != 200 || !strings.Contains(doc.Find(sel("password-fixed")).Text(), "Your password is set by ADMIN_PASSWORD on the server") {
		t.Errorf("fixed account: %d, notice %q", r.StatusCode, doc.Find(sel("password-fixed")).Text())
	}
	if doc.Find(sel("password-form")).Length() != 0 || doc.Find(`input[type="password"]`).Length() != 0 {
		t.Error("a fixed password's account shows the change form")
	}
	// A post anyway is refused, saying why.
	r, doc = me.do(t, "POST", "/account", url.Values{"current_password": {testAdminPassword}, "new_password": {"a long new password"}, "confirm": {"a long new password"}}, false)
	if r.StatusCode != 403 || !strings.Contains(doc.Find(sel("account-error")).Text(), "ADMIN_PASSWORD") {
		t.Errorf("fixed password's change: %d %q", r.StatusCode, doc.Find(sel("account-error")).Text())
	}
	// Anyone else still has the form.
	_, doc = other.do(t, "GET", "/account", nil, false)
	if doc.Find(sel("password-form")).Length() != 1 || doc.Find(sel("password-fixed")).Length() != 0 {
		t.Error("another admin's account has no change form")
	}
}

func TestOperatorsPage_DisableAsksFirstAndOwnRowHasNoControls(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	me, adm := b.operator(t, "Ann", admin.RoleAdmin)
	vic, victim := b.operator(t, "Vic", admin.RoleDispatcher)

	_, doc := adm.do(t, "GET", "/operators", nil, false)
	self := doc.Find(sel("operator-row") + `[data-username="` + me.Username + `"]`)
	if self.Length() != 1 || self.Find("select, button, form, "+sel("operator-disable")).Length() != 0 ||
		self.Find(sel("operator-self")).Text() != "you" || self.Find(sel("operator-role-self")).Text() != "admin" {
		t.Errorf("own row: %q", self.Text())
	}
	row := doc.Find(sel("operator-row") + `[data-username="` + vic.Username + `"]`)
	href, _ := row.Find(sel("operator-disable")).Attr("href")
	if row.Find(sel("operator-role")).Length() != 1 || href != "/operators/"+itoa(vic.ID)+"/disable" {
		t.Fatalf("Vic's row: role menu %d, disable link %q", row.Find(sel("operator-role")).Length(), href)
	}
	// The GET asks and changes nothing.
	r, doc := adm.do(t, "GET", href, nil, false)
	form := doc.Find(sel("operator-confirm"))
	action, _ := form.Attr("action")
	if r.StatusCode != 200 || !strings.Contains(form.Text(), "Disable Vic") || action != "/operators/"+itoa(vic.ID)+"/disabled" ||
		form.Find(`input[name="`+components.CSRFFieldName+`"]`).Length() == 0 || form.Find(sel("operator-confirm-back")).Length() != 1 {
		t.Fatalf("confirmation: %d, action %q, %q", r.StatusCode, action, form.Text())
	}
	if r, _ := victim.do(t, "GET", "/rides", nil, false); r.StatusCode != 200 {
		t.Fatalf("asking disabled Vic already: %d", r.StatusCode)
	}
	if op, err := b.srv.Admin.Operator(t.Context(), vic.ID); err != nil || op.Disabled {
		t.Fatalf("after the GET: %+v, %v", op, err)
	}
	// The POST does it, and needs the CSRF token.
	noCSRF := *adm
	noCSRF.csrf = "forged"
	if r, _ := noCSRF.do(t, "POST", action, url.Values{"disabled": {"true"}}, false); r.StatusCode != 403 {
		t.Errorf("a POST without the CSRF token: %d", r.StatusCode)
	}
	if r, _ := adm.do(t, "POST", action, url.Values{"disabled": {"true"}}, false); r.StatusCode != 303 {
		t.Fatalf("disable: %d", r.StatusCode)
	}
	if r, _ := victim.do(t, "GET", "/rides", nil, false); r.StatusCode != 303 {
		t.Errorf("disabled Vic's page: %d", r.StatusCode)
	}
	// Asking again about a disabled operator goes back to the list.
	if r, _ := adm.do(t, "GET", href, nil, false); r.StatusCode != 303 {
		t.Errorf("confirming a disabled operator: %d", r.StatusCode)
	}
	// Not for dispatchers, nor for unknown ids.
	_, disp := b.operator(t, "Dana", admin.RoleDispatcher)
	if r, _ := disp.do(t, "GET", href, nil, false); r.StatusCode != 403 {
		t.Errorf("a dispatcher's confirmation: %d", r.StatusCode)
	}
	if r, _ := adm.do(t, "GET", "/operators/999999/disable", nil, false); r.StatusCode != 404 {
		t.Errorf("an unknown operator's confirmation: %d", r.StatusCode)
	}
}

func TestAPI_RevokeAsksFirst(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, adm := b.operator(t, "Ann", admin.RoleAdmin)
	_, doc := adm.do(t, "POST", "/tokens", url.Values{"name": {"acme-backend"}}, false)
	secret := doc.Find(sel("token-secret")).Text()
	_, doc = adm.do(t, "GET", "/tokens", nil, false)
	href, _ := doc.Find(sel("token-revoke")).Attr("href")
	if href == "" || doc.Find(sel("token-row")+" form").Length() != 0 {
		t.Fatalf("the list's revoke is %q, or revokes in one click", href)
	}
	r, doc := adm.do(t, "GET", href, nil, false)
	form := doc.Find(sel("token-confirm"))
	action, _ := form.Attr("action")
	if r.StatusCode != 200 || action != href || !strings.Contains(form.Text(), "Revoke token “acme-backend”?") ||
		!strings.Contains(form.Text(), "Integrations using it stop at once") || form.Find(sel("token-confirm-back")).Length() != 1 {
		t.Fatalf("confirmation: %d, action %q, %q", r.StatusCode, action, form.Text())
	}
	if r := b.apiAs(t, secret, "GET", "/api/v1/rides", nil, nil); r.StatusCode != 200 {
		t.Fatalf("the token after the confirmation's GET: %d", r.StatusCode)
	}
	if r, _ := adm.do(t, "POST", action, url.Values{}, false); r.StatusCode != 303 {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	if r := b.apiAs(t, secret, "GET", "/api/v1/rides", nil, nil); r.StatusCode != 401 {
		t.Errorf("a revoked token: %d", r.StatusCode)
	}
	// Revoked, there is nothing to confirm.
	if r, _ := adm.do(t, "GET", href, nil, false); r.StatusCode != 404 {
		t.Errorf("confirming a revoked token: %d", r.StatusCode)
	}
}
