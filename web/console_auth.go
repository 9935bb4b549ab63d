package web

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"birdcar/components"
	"birdcar/sql/admin"
	"birdcar/sql/ride"
)

const (
	sessionCookie = "birdcar_session"

	// htmx's full-page redirect, and the page an htmx request came from.
	hxRedirect   = "HX-Redirect"
	hxCurrentURL = "HX-Current-URL"

	riverUIPrefix = "/riverui"
)

var (
	errNotLoggedIn = &ride.Error{Code: ride.CodeUnauthorized,
		Message: "You are not logged in, or your session has ended. Log in and try again."}
	errCSRF = &ride.Error{Code: ride.CodeCSRF,
		Message: "This form has expired or did not come from BirdCar. Reload the page and try again."}
)

// registerAuthRoutes mounts /login and /logout.
func (s *Server) registerAuthRoutes() {
	// The limiter belongs to this server rather than the package, so tests
	// (each with its own server) do not count each other's failures.
	limits := newLoginLimiter()
	s.app.Get("/login", s.handleLoginPage)
	s.app.Post("/login", func(c *fiber.Ctx) error { return s.handleLogin(c, limits) })
	s.app.All("/login", onlyMethods(fiber.MethodGet, fiber.MethodPost))
	// Logout is a console action: it runs the console's checks itself,
	// being registered before them.
	s.app.Post("/logout", s.requireLogin, s.checkCSRF, s.handleLogout)
}

func (s *Server) handleLoginPage(c *fiber.Ctx) error {
	next := localPath(c.Query("next"))
	_, ok, err := s.session(c)
	if err != nil {
		return err
	}
	if ok {
		return c.Redirect(next, http.StatusSeeOther)
	}
	return s.renderLogin(c, http.StatusOK, components.LoginProps{Next: next})
}

// handleLogin checks the credentials and starts a session.
//
// The form has no session, so no session token to check. Instead of a
// double-submit cookie it asks the browser where the post came from
// (sameOrigin): that needs no state, and a sibling subdomain that can plant
// cookies cannot forge it. Scripts that log in must send an Origin header.
//
// Failures are limited per client address only (loginLimiter): a limit on
// the user name would let anyone lock the operator out by guessing wrong.
// The credentials are read from the posted body only, never the query
// string, which logs and Referer headers keep.
func (s *Server) handleLogin(c *fiber.Ctx, limits *loginLimiter) error {
	if !sameOrigin(c) {
		return errCSRF
	}
	ctx := c.UserContext()
	now := s.Rides.Now()
	user := postedValue(c, "user")
	props := components.LoginProps{Username: user, Next: localPath(c.FormValue("next"))}
	client := s.clientAddr(c)
	key := loginKey(client)
	if wait := limits.attempt(now, key); wait > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		props.Error = "Too many failed attempts from your address. Try again in " + waitText(wait) + "."
		return s.renderLogin(c, http.StatusTooManyRequests, props)
	}
	op, ok, err := s.Admin.Login(ctx, user, postedValue(c, "password"))
	if err != nil {
		return err
	}
	if !ok {
		s.Logger.WarnContext(ctx, "console login failed", "ip", client.String())
		props.Error = "Wrong user name or password."
		return s.renderLogin(c, http.StatusUnauthorized, props)
	}
	limits.forget(key)
	token, err := s.Admin.StartSession(ctx, op)
	if err != nil {
		return err
	}
	s.setSessionCookie(c, token)
	return c.Redirect(props.Next, http.StatusSeeOther)
}

// setSessionCookie gives the browser the session token names.
func (s *Server) setSessionCookie(c *fiber.Ctx, token string) {
	ck := s.sessionCookie(token)
	ck.MaxAge = int(admin.SessionLifetime / time.Second)
	c.Cookie(ck)
}

func (s *Server) handleLogout(c *fiber.Ctx) error {
	if err := s.Admin.EndSession(c.UserContext(), c.Cookies(sessionCookie)); err != nil {
		return err
	}
	ck := s.sessionCookie("")
	ck.Expires = time.Unix(0, 0)
	c.Cookie(ck)
	return c.Redirect("/login", http.StatusSeeOther)
}

func (s *Server) renderLogin(c *fiber.Ctx, status int, p components.LoginProps) error {
	return renderPage(c, status, s.layout(c, "Log in", ""), components.Login(p))
}

// session is the live session the request's cookie names, if any.
func (s *Server) session(c *fiber.Ctx) (admin.Session, bool, error) {
	return s.Admin.Session(c.UserContext(), c.Cookies(sessionCookie))
}

func (s *Server) sessionCookie(value string) *fiber.Cookie {
	return &fiber.Cookie{Name: sessionCookie, Value: value, Path: "/", HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode, Secure: s.SecureCookies}
}

// requireLogin sends a visitor without a valid session to /login.
func (s *Server) requireLogin(c *fiber.Ctx) error {
	sess, ok, err := s.session(c)
	if err != nil {
		return err
	}
	if ok {
		c.Locals(localSession, sess)
		ctx := components.WithCSRF(c.UserContext(), sess.CSRFToken)
		ctx = components.WithRole(ctx, sess.Role)
		c.SetUserContext(ride.WithActor(ctx, sess.Actor()))
		return c.Next()
	}
	if isHTMX(c) {
		// The request is a fragment's; come back to the page that asked.
		next := "/"
		if u, err := url.Parse(c.Get(hxCurrentURL)); err == nil && u.Path != "" {
			next = u.RequestURI()
		}
		c.Set(hxRedirect, loginURL(next))
		return errNotLoggedIn
	}
	if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
		return c.Redirect(loginURL(c.OriginalURL()), http.StatusSeeOther)
	}
	// Replaying a form post after a redirect would lose it: say what
	// happened instead.
	return errNotLoggedIn
}

func loginURL(next string) string { return "/login?next=" + url.QueryEscape(next) }

// localPath is next if it is a path on this site, else "/": a login link
// must not send the operator elsewhere. "//host" and "/\host" are
// absolute to browsers, and they drop tabs and newlines before reading.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsFunc(next, func(r rune) bool { return r == '\\' || r < ' ' || r == 0x7f }) {
		return "/"
	}
	return next
}

// checkCSRF refuses a state-changing request without the session's token.
func (s *Server) checkCSRF(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions, fiber.MethodTrace:
		return c.Next()
	}
	want := components.CSRFToken(c.UserContext())
	// The header or the posted form, never the query string: a token in a
	// URL leaks through logs and Referer headers.
	got := c.Get(components.CSRFHeader)
	if got == "" {
		got = postedValue(c, components.CSRFFieldName)
	}
	if want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
		return c.Next()
	}
	// River UI's own JavaScript calls its API without our token. There the
	// browser's word that the request comes from our own pages stands in
	// for it; no other page can make it say so.
	if strings.HasPrefix(c.Path(), riverUIPrefix+"/") && sameOrigin(c) {
		return c.Next()
	}
	return errCSRF
}

// postedValue is a field of the posted form, urlencoded or multipart, and
// never of the query string, which c.FormValue reads first.
func postedValue(c *fiber.Ctx, name string) string {
	if v := c.Request().PostArgs().Peek(name); len(v) > 0 {
		return string(v)
	}
	if strings.HasPrefix(strings.ToLower(string(c.Request().Header.ContentType())), fiber.MIMEMultipartForm) {
		if form, err := c.MultipartForm(); err == nil && len(form.Value[name]) > 0 {
			return form.Value[name][0]
		}
	}
	return ""
}

// sameOrigin reports whether the browser says the request comes from a page
// of this site: Sec-Fetch-Site (sent by every current browser), or for an
// older browser an Origin naming this host. A request with neither is
// refused: without them nothing shows where it came from.
func sameOrigin(c *fiber.Ctx) bool {
	switch c.Get("Sec-Fetch-Site") {
	case "same-origin":
		return true
	case "":
		u, err := url.Parse(c.Get(fiber.HeaderOrigin))
		return err == nil && u.Host != "" && u.Host == string(c.Request().Host())
	}
	return false
}

// registerRiverUIRoutes mounts River's UI at /riverui behind the login.
// The handler is built with Prefix "/riverui" and strips it itself, so it
// gets the full path.
func (s *Server) registerRiverUIRoutes() {
	if s.RiverUI == nil {
		return
	}
	s.app.Use(riverUIPrefix, s.httpHandler(s.RiverUI))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
