package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"birdcar/components"
	"birdcar/sql/admin"
	"birdcar/sql/ride"
)

// registerOperatorRoutes mounts the pages of operators and their work:
// operators, API tokens, one's own account, the audit log, and the page
// a refused htmx request lands on. roleRules says who may use each.
func (s *Server) registerOperatorRoutes() {
	s.app.Get("/operators", s.handleOperators)
	s.app.Post("/operators", s.handleOperatorAdd)
	s.app.Post("/operators/:id/role", s.handleOperatorRole)
	s.app.Get("/operators/:id/disable", s.handleOperatorDisableConfirm)
	s.app.Post("/operators/:id/disabled", s.handleOperatorDisabled)
	s.app.Get("/tokens", s.handleTokens)
	s.app.Post("/tokens", s.handleTokenCreate)
	s.app.Get("/tokens/:id/revoke", s.handleTokenRevokeConfirm)
	s.app.Post("/tokens/:id/revoke", s.handleTokenRevoke)
	s.app.Get("/account", s.handleAccount)
	// The form posts to /account, so that a failed submit shows its
	// errors at the page's own address; /account/password is its old one.
	s.app.Post("/account", s.handlePasswordChange)
	s.app.Post("/account/password", s.handlePasswordChange)
	s.app.Get("/account/password", func(c *fiber.Ctx) error { return c.Redirect("/account", http.StatusSeeOther) })
	s.app.Get("/audit", s.handleAudit)
	s.app.Get(forbiddenPath, s.handleForbidden)
}

// sessionOf is the signed-in operator of a console request.
func sessionOf(c *fiber.Ctx) admin.Session {
	sess, _ := c.Locals(localSession).(admin.Session)
	return sess
}

func (s *Server) handleOperators(c *fiber.Ctx) error {
	return s.renderOperators(c, http.StatusOK, components.OperatorsProps{Notice: notice(c)})
}

// renderOperators shows the operators page with p's form and notes.
func (s *Server) renderOperators(c *fiber.Ctx, status int, p components.OperatorsProps) error {
	ops, err := s.Admin.Operators(c.UserContext())
	if err != nil {
		return err
	}
	p.Operators, p.Self = ops, sessionOf(c).User
	if p.Form.Role == "" {
		p.Form.Role = string(admin.RoleDispatcher)
	}
	return renderPage(c, status, s.layout(c, "Operators", "operators"), components.Operators(p))
}

// operatorsNotice sends the browser back to the list with a note.
func operatorsNotice(c *fiber.Ctx, note string) error {
	return c.Redirect(noticeURL(c, "/operators", note), http.StatusSeeOther)
}

// noticeURL is path with a note for the page to show after a redirect,
// signed with the session's CSRF token: a link someone else made cannot
// put words of theirs in a BirdCar notice.
func noticeURL(c *fiber.Ctx, path, note string) string {
	return path + "?" + url.Values{"notice": {note}, "sig": {noticeSig(c, note)}}.Encode()
}

// notice is the request's signed note, or "" for a missing or forged one.
func notice(c *fiber.Ctx) string {
	note := c.Query("notice")
	if note == "" || !hmac.Equal([]byte(c.Query("sig")), []byte(noticeSig(c, note))) {
		return ""
	}
	return note
}

func noticeSig(c *fiber.Ctx, note string) string {
	mac := hmac.New(sha256.New, []byte(components.CSRFToken(c.UserContext())))
	mac.Write([]byte(note))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (s *Server) handleOperatorAdd(c *fiber.Ctx) error {
	form := components.OperatorForm{Name: postedValue(c, "name"), Username: postedValue(c, "username"), Role: postedValue(c, "role")}
	// An unknown role is reported by AddOperator with the other fields.
	role, _ := admin.ParseRole(form.Role)
	_, err := s.Admin.AddOperator(c.UserContext(), admin.NewOperator{
		Name: form.Name, Username: form.Username, Role: role, Password: postedValue(c, "password")})
	if e := ride.AsError(err); e != nil && e.Field != "" {
		form.Errors = e.FieldErrors()
		return s.renderOperators(c, statusOf[e.Code.Kind()], components.OperatorsProps{Form: form})
	}
	if err != nil {
		return err
	}
	return operatorsNotice(c, "Added "+form.Username+" as "+string(role)+".")
}

func (s *Server) handleOperatorRole(c *fiber.Ctx) error {
	id, err := pathID(c, admin.ErrOperatorNotFound)
	if err != nil {
		return err
	}
	role, err := admin.ParseRole(postedValue(c, "role"))
	if err != nil {
		return err
	}
	op, err := s.Admin.SetRole(c.UserContext(), id, role)
	if e := ride.AsError(err); e != nil {
		return s.renderOperators(c, statusOf[e.Code.Kind()], components.OperatorsProps{Error: e.Message})
	} else if err != nil {
		return err
	}
	return operatorsNotice(c, op.Name+" is now "+string(op.Role)+".")
}

// handleOperatorDisableConfirm asks before an operator is disabled: the
// form it shows posts to /operators/:id/disabled. It changes nothing.
func (s *Server) handleOperatorDisableConfirm(c *fiber.Ctx) error {
	id, err := pathID(c, admin.ErrOperatorNotFound)
	if err != nil {
		return err
	}
	op, err := s.Admin.Operator(c.UserContext(), id)
	if err != nil {
		return err
	}
	if op.Disabled {
		return operatorsNotice(c, op.Name+" is already disabled.")
	}
	return renderPage(c, http.StatusOK, s.layout(c, "Disable "+op.Name+"?", "operators"), components.OperatorDisableConfirm(op))
}

func (s *Server) handleOperatorDisabled(c *fiber.Ctx) error {
	id, err := pathID(c, admin.ErrOperatorNotFound)
	if err != nil {
		return err
	}
	disabled := postedValue(c, "disabled") == "true"
	op, err := s.Admin.SetDisabled(c.UserContext(), id, disabled)
	if e := ride.AsError(err); e != nil {
		return s.renderOperators(c, statusOf[e.Code.Kind()], components.OperatorsProps{Error: e.Message})
	} else if err != nil {
		return err
	}
	if op.Disabled {
		return operatorsNotice(c, op.Name+" is disabled and logged out.")
	}
	return operatorsNotice(c, op.Name+" is enabled.")
}

func (s *Server) handleTokens(c *fiber.Ctx) error {
	return s.renderTokens(c, http.StatusOK, components.TokensProps{Notice: notice(c)})
}

func (s *Server) renderTokens(c *fiber.Ctx, status int, p components.TokensProps) error {
	tokens, err := s.Admin.Tokens(c.UserContext())
	if err != nil {
		return err
	}
	p.Tokens, p.EnvTokens = tokens, len(s.APITokens)
	return renderPage(c, status, s.layout(c, "API tokens", "tokens"), components.Tokens(p))
}

func (s *Server) handleTokenCreate(c *fiber.Ctx) error {
	name := postedValue(c, "name")
	t, secret, err := s.Admin.CreateToken(c.UserContext(), name)
	if e := ride.AsError(err); e != nil {
		return s.renderTokens(c, statusOf[e.Code.Kind()], components.TokensProps{Name: name, NameError: e.Message})
	} else if err != nil {
		return err
	}
	return s.renderTokens(c, http.StatusCreated, components.TokensProps{Created: &t, Secret: secret})
}

// handleTokenRevokeConfirm asks before a token is revoked: the form it
// shows posts to the same address. It changes nothing.
func (s *Server) handleTokenRevokeConfirm(c *fiber.Ctx) error {
	id, err := pathID(c, admin.ErrTokenNotFound)
	if err != nil {
		return err
	}
	t, err := s.Admin.LiveToken(c.UserContext(), id)
	if err != nil {
		return err
	}
	return renderPage(c, http.StatusOK, s.layout(c, "Revoke token?", "tokens"), components.TokenRevokeConfirm(t))
}

func (s *Server) handleTokenRevoke(c *fiber.Ctx) error {
	id, err := pathID(c, admin.ErrTokenNotFound)
	if err != nil {
		return err
	}
	t, err := s.Admin.RevokeToken(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.Redirect(noticeURL(c, "/tokens", "Token “"+t.Name+"” is revoked: it no longer works."), http.StatusSeeOther)
}

func (s *Server) handleAccount(c *fiber.Ctx) error {
	p := components.AccountProps{}
	if c.Query("changed") == "1" {
		p.Notice = "Your password is changed."
	}
	return s.renderAccount(c, http.StatusOK, p)
}

func (s *Server) renderAccount(c *fiber.Ctx, status int, p components.AccountProps) error {
	sess := sessionOf(c)
	p.Name, p.Username, p.Role = sess.Name, sess.User, string(sess.Role)
	p.Fixed = s.Admin.PasswordFixedFor(sess.User)
	return renderPage(c, status, s.layout(c, "Your account", "account"), components.Account(p))
}

func (s *Server) handlePasswordChange(c *fiber.Ctx) error {
	token, err := s.Admin.ChangePassword(c.UserContext(), sessionOf(c).OperatorID,
		postedValue(c, "current_password"), postedValue(c, "new_password"), postedValue(c, "confirm"))
	if e := ride.AsError(err); e != nil {
		return s.renderAccount(c, statusOf[e.Code.Kind()], components.AccountProps{Errors: e.FieldErrors()})
	} else if err != nil {
		return err
	}
	// Every session of the operator ended with the old password; this
	// browser goes on in a new one.
	s.setSessionCookie(c, token)
	return c.Redirect("/account?changed=1", http.StatusSeeOther)
}

// auditPageSize is how many entries one page of the audit log shows.
const auditPageSize = 50

// handleAudit lists the audit log, filtered by the query string (so a
// filtered view is a link), newest first, a page at a time.
func (s *Server) handleAudit(c *fiber.Ctx) error {
	ff := components.AuditFilter{Actor: c.Query("actor"), Action: c.Query("action"), Ride: c.Query("ride"),
		From: c.Query("from"), To: c.Query("to")}
	f, err := s.auditFilter(c, ff)
	var entries []ride.AuditEntry
	var next *ride.Cursor
	if err == nil {
		entries, next, err = s.Rides.AuditLog(c.UserContext(), f)
	}
	if e := ride.AsError(err); e != nil && e.Code.Kind() != ride.Internal {
		ff.Error = e.Message
	} else if err != nil {
		return err
	}
	p := components.AuditProps{Filter: ff, Entries: entries, Actions: ride.AuditActions}
	if next != nil {
		q := url.Values{}
		for k, v := range map[string]string{"actor": ff.Actor, "action": ff.Action, "ride": ff.Ride, "from": ff.From, "to": ff.To} {
			if v != "" {
				q.Set(k, v)
			}
		}
		q.Set("cursor", next.String())
		p.Next = "/audit?" + q.Encode()
	}
	status := http.StatusOK
	if ff.Error != "" {
		status = http.StatusUnprocessableEntity
	}
	return renderPage(c, status, s.layout(c, "Audit log", "audit"), components.Audit(p))
}

// auditFilter reads the audit page's filter; dates are days in the
// service's time zone, both ends included.
func (s *Server) auditFilter(c *fiber.Ctx, ff components.AuditFilter) (ride.AuditFilter, error) {
	f := ride.AuditFilter{Actor: ff.Actor, Action: ff.Action, Page: ride.Page{Limit: auditPageSize}}
	if ff.Ride != "" {
		id, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(ff.Ride), "#"), 10, 64) // "#2", as rides are shown
		if err != nil || id <= 0 {
			return f, ride.InvalidField("ride", "The ride id must be a positive whole number.")
		}
		f.RideID = id
	}
	var bad string
	if f.Since, f.Until, bad = dayRange(ff.From, ff.To, s.Rides.Location()); bad != "" {
		return f, ride.InvalidField(bad, "Dates are written YYYY-MM-DD.")
	}
	var err error
	f.Page.After, err = ride.ParseCursor(c.Query("cursor"))
	return f, err
}
