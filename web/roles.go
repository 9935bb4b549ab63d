package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"birdcar/components"
	"birdcar/sql/admin"
	"birdcar/sql/ride"
)

// localSession is the c.Locals key of the signed-in operator's
// admin.Session, left by requireLogin.
const localSession = "session"

// forbiddenPath shows what role an action needs; htmx requests that are
// refused are sent there (htmx does not swap a 403's body).
const forbiddenPath = "/forbidden"

// roleRule is the least role a group of console requests needs.
type roleRule struct {
	prefix string // a path, or the start of paths ("/numbers/")
	write  bool   // only for methods that change state
	role   admin.Role
	what   string // what the role allows, for the 403 page
}

// roleRules decide, in order, the least role of a console request: the
// first rule whose prefix and method match. Reads need a viewer and
// changes a dispatcher unless a rule says more. This table is the one
// place roles are enforced; the buttons the console hides are a courtesy.
var roleRules = []roleRule{
	{riverUIPrefix, false, admin.RoleAdmin, "River's job UI"},
	{"/operators", false, admin.RoleAdmin, "managing operators"},
	{"/tokens", false, admin.RoleAdmin, "managing API tokens"},
	{"/numbers", true, admin.RoleAdmin, "changing the pool of numbers"},
	{"/audit", false, admin.RoleDispatcher, "the audit log"},
	{"/account", false, admin.RoleViewer, ""}, // everyone changes their own password
	{"/", true, admin.RoleDispatcher, "managing rides, people and sends"},
	{"/", false, admin.RoleViewer, ""},
}

// neededRole is the least role the request needs, and what that role
// allows.
func neededRole(method, path string) (admin.Role, string) {
	write := method != fiber.MethodGet && method != fiber.MethodHead && method != fiber.MethodOptions
	// Fiber routes paths whatever their case (/Operators reaches
	// /operators), so the rules must read them alike.
	path = strings.ToLower(path)
	for _, r := range roleRules {
		if (r.write && !write) || !pathUnder(path, r.prefix) {
			continue
		}
		return r.role, r.what
	}
	return admin.RoleAdmin, ""
}

// pathUnder reports whether path is prefix or below it.
func pathUnder(path, prefix string) bool {
	if prefix == "/" {
		return true
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// requireRole refuses a console request the signed-in operator's role
// does not allow: 403 with a page saying which role it needs, or for htmx
// a redirect to that page.
func (s *Server) requireRole(c *fiber.Ctx) error {
	sess, ok := c.Locals(localSession).(admin.Session)
	need, what := neededRole(c.Method(), c.Path())
	if ok && sess.Role.AtLeast(need) {
		return c.Next()
	}
	if isHTMX(c) {
		c.Set(hxRedirect, forbiddenPath+"?"+url.Values{"need": {string(need)}, "what": {what}}.Encode())
		return forbidden(sess, need, what)
	}
	return s.renderForbidden(c, sess, need, what)
}

// forbidden is the error a refused request answers with.
func forbidden(sess admin.Session, need admin.Role, what string) *ride.Error {
	msg := "This needs the " + string(need) + " role"
	if what != "" {
		msg = strings.ToUpper(what[:1]) + what[1:] + " needs the " + string(need) + " role"
	}
	msg += "; you are signed in as " + sess.Name + " (" + string(sess.Role) + "). Ask an admin if you need it."
	return &ride.Error{Code: ride.CodeForbidden, Message: msg}
}

// renderForbidden is the 403 page: what the request needed, and a way on.
func (s *Server) renderForbidden(c *fiber.Ctx, sess admin.Session, need admin.Role, what string) error {
	return renderPage(c, http.StatusForbidden, s.layout(c, "Not allowed", ""),
		components.Forbidden(components.ErrorProps{Status: http.StatusForbidden, Message: forbidden(sess, need, what).Message}))
}

// handleForbidden is the 403 page an htmx request that was refused lands on.
func (s *Server) handleForbidden(c *fiber.Ctx) error {
	sess := sessionOf(c)
	need, err := admin.ParseRole(c.Query("need"))
	if err != nil {
		need = admin.RoleAdmin
	}
	what := ""
	for _, r := range roleRules {
		if r.role == need && r.what == c.Query("what") {
			what = r.what
		}
	}
	return s.renderForbidden(c, sess, need, what)
}
