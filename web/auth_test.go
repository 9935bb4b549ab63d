package web

import (
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/crypto/bcrypt"

	"birdcar/components"
	"birdcar/sql/admin"
	"birdcar/sql/dbtest"
)

const (
	testAdminUser     = "admin"
	testAdminPassword = "correct horse battery staple"
)

// sharedAdmin is the test operator, committed once in the shared test
// database: tests that each added it in their own transaction would queue
// on its unique user name, and deadlock with other unique keys they take.
var sharedAdmin sync.Once

func ensureSharedAdmin(t testing.TB) {
	t.Helper()
	sharedAdmin.Do(func() {
		hash, err := bcrypt.GenerateFromPassword([]byte(testAdminPassword), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		_, err = dbtest.Pool(t).Exec(t.Context(), `INSERT INTO operators (name, username, password_hash, role)
			VALUES ($1, $1, $2, 'admin') ON CONFLICT DO NOTHING`, testAdminUser, hash)
		if err != nil {
			t.Fatal(err)
		}
	})
}

// withAdmin gives the bundle's server the test operator's credentials,
// hashed at bcrypt's minimum cost to keep the tests fast.
func (b *testBundle) withAdmin(t testing.TB) *testBundle {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(testAdminPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	b.srv.Admin.User, b.srv.Admin.PasswordHash = testAdminUser, hash
	ensureSharedAdmin(t)
	if _, err := b.srv.Admin.EnsureFirstAdmin(t.Context()); err != nil {
		t.Fatal(err)
	}
	return b
}

// session starts a session for the test operator directly (no form, no
// bcrypt, no rate limit) and returns its Cookie header value and CSRF token.
func (b *testBundle) session(t testing.TB) (cookie, csrf string) {
	t.Helper()
	// A copy names the operator even on a server without withAdmin, whose
	// pages would otherwise show no one signed in (and no navigation).
	ensureSharedAdmin(t)
	operator := *b.srv.Admin
	operator.User = testAdminUser
	op, err := operator.EnsureFirstAdmin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return b.sessionOf(t, op)
}

// sessionOf starts a session for op and returns its Cookie header value
// and CSRF token.
func (b *testBundle) sessionOf(t testing.TB, op admin.Operator) (cookie, csrf string) {
	t.Helper()
	token, err := b.srv.Admin.StartSession(t.Context(), op)
	if err != nil {
		t.Fatal(err)
	}
	return sessionCookie + "=" + token, b.csrfToken(t, token)
}

// csrfToken is the CSRF token of the live session token names.
func (b *testBundle) csrfToken(t testing.TB, token string) string {
	t.Helper()
	sess, ok, err := b.srv.Admin.Session(t.Context(), token)
	if err != nil || !ok {
		t.Fatalf("session %q: live %v, %v", token, ok, err)
	}
	return sess.CSRFToken
}

// login signs the test operator in and returns the Cookie header value that
// lets a request past the console's login check.
func (b *testBundle) login(t testing.TB) string {
	t.Helper()
	cookie, _ := b.session(t)
	return cookie
}

// signIn makes req a signed-in console request: it carries a new session's
// cookie and CSRF header, so GETs and form posts alike get through.
func (b *testBundle) signIn(t testing.TB, req *http.Request) *http.Request {
	t.Helper()
	cookie, csrf := b.session(t)
	req.Header.Set("Cookie", cookie)
	req.Header.Set(components.CSRFHeader, csrf)
	return req
}

// postLogin submits the login form as a current browser would.
func (b *testBundle) postLogin(t *testing.T, user, password, next string) *http.Response {
	t.Helper()
	form := url.Values{"user": {user}, "password": {password}, "next": {next}}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(t, req)
}

func parseHTML(t *testing.T, r *http.Response) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestLogin_PageRenders(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	r := b.do(t, httptest.NewRequest("GET", "/login?next=%2Frides%3Fstatus%3Dactive", nil))
	if r.StatusCode != 200 {
		t.Fatalf("GET /login: %d", r.StatusCode)
	}
	doc := parseHTML(t, r)
	for _, id := range []string{"login-user", "login-password", "login-submit"} {
		if doc.Find(`[data-testid="`+id+`"]`).Length() != 1 {
			t.Errorf("no %s", id)
		}
	}
	if got, _ := doc.Find(`input[name="next"]`).Attr("value"); got != "/rides?status=active" {
		t.Errorf("next = %q", got)
	}
	if doc.Find(`nav[aria-label="Main"]`).Length() != 0 || doc.Find(`[data-testid="logout"]`).Length() != 0 {
		t.Error("the login page shows the console's navigation")
	}
	if doc.Find(`[data-testid="login-error"]`).Length() != 0 {
		t.Error("error shown before any attempt")
	}
}

func TestLogin_WrongCredentials(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct{ user, password string }{
		"wrong password": {testAdminUser, "guess"},
		"wrong user":     {"root", testAdminPassword},
		"empty":          {"", ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil).withAdmin(t)
			r := b.postLogin(t, c.user, c.password, "/")
			if r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", r.StatusCode)
			}
			if len(r.Cookies()) != 0 {
				t.Errorf("cookies set: %v", r.Cookies())
			}
			doc := parseHTML(t, r)
			if got := doc.Find(`[data-testid="login-error"]`).Text(); got != "Wrong user name or password." {
				t.Errorf("error %q", got)
			}
			if got, _ := doc.Find(`[data-testid="login-user"]`).Attr("value"); got != c.user {
				t.Errorf("user name not kept: %q", got)
			}
			if got, _ := doc.Find(`[data-testid="login-password"]`).Attr("value"); got != "" {
				t.Errorf("password echoed: %q", got)
			}
		})
	}
}

func TestLogin_SetsSessionCookie(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprint("secure=", secure), func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil).withAdmin(t)
			b.srv.SecureCookies = secure
			r := b.postLogin(t, testAdminUser, testAdminPassword, "/rides?status=active")
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/rides?status=active" {
				t.Fatalf("status %d to %q, want 303 to /rides?status=active", r.StatusCode, r.Header.Get("Location"))
			}
			cookies := r.Cookies()
			if len(cookies) != 1 || cookies[0].Name != sessionCookie {
				t.Fatalf("cookies %v", cookies)
			}
			ck := cookies[0]
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure != secure {
				t.Errorf("cookie attributes: %s", r.Header.Get("Set-Cookie"))
			}
			if ck.MaxAge != int(admin.SessionLifetime/time.Second) {
				t.Errorf("max age %d", ck.MaxAge)
			}
			if raw, err := base64.RawURLEncoding.DecodeString(ck.Value); err != nil || len(raw) != 32 {
				t.Errorf("token %q is not 32 random bytes: %v", ck.Value, err)
			}

			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(ck)
			r = b.do(t, req)
			if r.StatusCode != 200 {
				t.Fatalf("GET / with the cookie: %d", r.StatusCode)
			}
			doc := parseHTML(t, r)
			if got := doc.Find(".who").Text(); got != testAdminUser {
				t.Errorf("signed-in user shown as %q", got)
			}
			// The page carries the session's CSRF token for htmx and forms.
			csrf := b.csrfToken(t, ck.Value)
			if got, _ := doc.Find(`input[name="_csrf"]`).Attr("value"); got != csrf || got == "" {
				t.Errorf("form token %q, session's %q", got, csrf)
			}
			if got, _ := doc.Find("body").Attr("hx-headers"); !strings.Contains(got, csrf) {
				t.Errorf("hx-headers %q lack the token", got)
			}
		})
	}
}

func TestLogin_NextStaysLocal(t *testing.T) {
	t.Parallel()
	for next, want := range map[string]string{
		"":                      "/",
		"/people":               "/people",
		"//evil.example":        "/",
		"//evil.example/path":   "/",
		"/\\evil.example":       "/",
		"/\t/evil.example":      "/",
		"https://evil.example/": "/",
		"javascript:alert(1)":   "/",
		"rides":                 "/",
	} {
		t.Run(next, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil).withAdmin(t)
			r := b.postLogin(t, testAdminUser, testAdminPassword, next)
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != want {
				t.Errorf("status %d to %q, want 303 to %q", r.StatusCode, r.Header.Get("Location"), want)
			}
		})
	}
}

func TestLogin_AlreadySignedInGoesOn(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	req := httptest.NewRequest("GET", "/login?next=%2Fnumbers", nil)
	req.Header.Set("Cookie", b.login(t))
	r := b.do(t, req)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/numbers" {
		t.Errorf("status %d to %q, want 303 to /numbers", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestAuth_ConsoleRequiresLogin(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	expired := b.login(t)
	b.Clock.Advance(admin.SessionLifetime + time.Minute)
	for _, c := range []struct {
		name, method, path, cookie string
		header                     map[string]string
		status                     int
		location, hxRedirect       string
	}{
		{name: "root", method: "GET", path: "/", status: 303, location: "/login?next=%2F"},
		{name: "query kept", method: "GET", path: "/rides?status=active", status: 303, location: "/login?next=%2Frides%3Fstatus%3Dactive"},
		{name: "unknown cookie", method: "GET", path: "/", cookie: sessionCookie + "=nope", status: 303, location: "/login?next=%2F"},
		{name: "expired session", method: "GET", path: "/people", cookie: expired, status: 303, location: "/login?next=%2Fpeople"},
		{name: "riverui", method: "GET", path: "/riverui/", status: 303, location: "/login?next=%2Friverui%2F"},
		{name: "post", method: "POST", path: "/rides", status: 401},
		{name: "htmx back to current page", method: "GET", path: "/rides/list",
			header: map[string]string{"HX-Request": "true", "HX-Current-URL": "http://example.com/rides?q=x"},
			status: 401, hxRedirect: "/login?next=%2Frides%3Fq%3Dx"},
		{name: "htmx without current page", method: "POST", path: "/rides",
			header: map[string]string{"HX-Request": "true"}, status: 401, hxRedirect: "/login?next=%2F"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, nil)
			if c.cookie != "" {
				req.Header.Set("Cookie", c.cookie)
			}
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			r := b.do(t, req)
			if r.StatusCode != c.status || r.Header.Get("Location") != c.location || r.Header.Get("HX-Redirect") != c.hxRedirect {
				t.Errorf("status %d, Location %q, HX-Redirect %q; want %d, %q, %q", r.StatusCode,
					r.Header.Get("Location"), r.Header.Get("HX-Redirect"), c.status, c.location, c.hxRedirect)
			}
		})
	}
}

func TestCSRF_ConsolePostNeedsToken(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	cookie, csrf := b.session(t)
	post := func(token, field string) *http.Response {
		form := url.Values{}
		if field != "" {
			form.Set(components.CSRFFieldName, field)
		}
		req := httptest.NewRequest("POST", "/logout", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", cookie)
		// Same-origin does not replace the token outside River UI.
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if token != "" {
			req.Header.Set(components.CSRFHeader, token)
		}
		return b.do(t, req)
	}
	for name, tok := range map[string][2]string{
		"no token": {"", ""}, "wrong header": {"x" + csrf, ""}, "wrong field": {"", csrf[1:]},
	} {
		r := post(tok[0], tok[1])
		if r.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: status %d, want 403", name, r.StatusCode)
		}
		if got := parseHTML(t, r).Find(`[data-testid="error"]`).Text(); !strings.Contains(got, "did not come from BirdCar") {
			t.Errorf("%s: message %q", name, got)
		}
	}

	r := post(csrf, "")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("logout with the header token: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	if ck := r.Cookies(); len(ck) != 1 || ck[0].Name != sessionCookie || ck[0].Value != "" || ck[0].Expires.After(time.Now()) {
		t.Errorf("cookie not cleared: %s", r.Header.Get("Set-Cookie"))
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", cookie)
	if r := b.do(t, req); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the session outlived logout: GET / %d", r.StatusCode)
	}

	// The hidden form field does as well as the header.
	cookie, csrf = b.session(t)
	if r := post("", csrf); r.StatusCode != http.StatusSeeOther {
		t.Errorf("logout with the form token: %d", r.StatusCode)
	}
}

func TestCSRF_LoginNeedsSameOrigin(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		header map[string]string
		status int
	}{
		"same-origin fetch":  {map[string]string{"Sec-Fetch-Site": "same-origin"}, 303},
		"cross-site":         {map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://example.com"}, 403},
		"same-site":          {map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		"old browser, ours":  {map[string]string{"Origin": "http://example.com"}, 303},
		"old browser, other": {map[string]string{"Origin": "http://evil.example"}, 403},
		"nothing to tell":    {nil, 403},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil).withAdmin(t)
			form := url.Values{"user": {testAdminUser}, "password": {testAdminPassword}}
			req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			r := b.do(t, req)
			if r.StatusCode != c.status {
				t.Errorf("status %d, want %d", r.StatusCode, c.status)
			}
			if c.status == 403 && len(r.Cookies()) != 0 {
				t.Error("a refused login set a cookie")
			}
		})
	}
}

func TestCSRF_RiverUI(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	b := setup(t, nil)
	// River UI is mounted when the server is built: build another with it.
	b.srv = NewServer(t.Context(), &Server{
		Rides: b.Rides, Admin: b.srv.Admin, Logger: b.srv.Logger,
		RiverUI: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Method+" "+r.URL.Path)
			mu.Unlock()
			w.WriteHeader(http.StatusOK)
		}),
	})
	cookie := b.login(t)
	for _, c := range []struct {
		name, method, path string
		header             map[string]string
		status             int
	}{
		{"page", "GET", "/riverui/jobs", nil, 200},
		{"api from its own page", "POST", "/riverui/api/jobs/cancel", map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{"api, old browser", "POST", "/riverui/api/jobs/cancel", map[string]string{"Origin": "http://example.com"}, 200},
		{"api from elsewhere", "POST", "/riverui/api/jobs/cancel", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"api, old browser elsewhere", "POST", "/riverui/api/jobs/cancel", map[string]string{"Origin": "http://evil.example"}, 403},
		{"api, no word", "POST", "/riverui/api/jobs/cancel", nil, 403},
		{"not River UI", "POST", "/rides", map[string]string{"Sec-Fetch-Site": "same-origin"}, 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(`{"job_ids":["1"]}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Cookie", cookie)
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			if r := b.do(t, req); r.StatusCode != c.status {
				t.Errorf("status %d, want %d", r.StatusCode, c.status)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	// River UI strips its prefix itself: it must get the full path.
	want := []string{"GET /riverui/jobs", "POST /riverui/api/jobs/cancel", "POST /riverui/api/jobs/cancel"}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("River UI saw %q, want %q", seen, want)
	}
}

// TestCSRF_TokenNotFromQuery: the token counts from the header or the
// posted form, never from the URL.
func TestCSRF_TokenNotFromQuery(t *testing.T) {
	t.Parallel()
	b := setup(t, nil).withAdmin(t)
	post := func(target, contentType string, body io.Reader) int {
		cookie, _ := b.session(t)
		req := httptest.NewRequest("POST", target, body)
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Cookie", cookie)
		return b.do(t, req).StatusCode
	}
	cookie, csrf := b.session(t)
	// The session's own token, in the query string only.
	req := httptest.NewRequest("POST", "/logout?"+components.CSRFFieldName+"="+url.QueryEscape(csrf), strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", cookie)
	if r := b.do(t, req); r.StatusCode != http.StatusForbidden {
		t.Errorf("token in the query string: %d, want 403", r.StatusCode)
	}
	if got := post("/logout", "application/x-www-form-urlencoded", strings.NewReader("")); got != http.StatusForbidden {
		t.Errorf("no token: %d, want 403", got)
	}

	// In a posted form, urlencoded or multipart, it does.
	cookie, csrf = b.session(t)
	req = httptest.NewRequest("POST", "/logout", strings.NewReader(url.Values{components.CSRFFieldName: {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", cookie)
	if r := b.do(t, req); r.StatusCode != http.StatusSeeOther {
		t.Errorf("token in the urlencoded body: %d, want 303", r.StatusCode)
	}
	cookie, csrf = b.session(t)
	var body strings.Builder
	mw := multipart.NewWriter(&body)
	mw.WriteField(components.CSRFFieldName, csrf)
	mw.Close()
	req = httptest.NewRequest("POST", "/logout", strings.NewReader(body.String()))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Cookie", cookie)
	if r := b.do(t, req); r.StatusCode != http.StatusSeeOther {
		t.Errorf("token in the multipart body: %d, want 303", r.StatusCode)
	}
}
