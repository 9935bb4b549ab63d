package web

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"birdcar/sql/db"
	"birdcar/sql/ride/phone"
)

// forwardLimit is the longest text a forward carries intact.
const forwardLimit = 1600

func (s *Server) registerWebhookRoutes() {
	s.webhookSlots = make(chan struct{}, cmp.Or(max(s.WebhookConcurrency, 0), defaultWebhookConcurrency))
	// Slots are taken after the signature check, so forged requests cannot
	// crowd out MessageBird's.
	s.app.Post("/webhook", s.observeWebhook("sms"), s.verifySignature, s.limitWebhooks, s.handleWebhookSMS)
	s.app.Get("/webhook-voice", s.observeWebhook("voice"), s.verifySignature, s.limitWebhooks, s.handleWebhookVoice)
	s.app.Get("/webhook-status", s.observeWebhook("status"), s.verifySignature, s.limitWebhooks, s.handleWebhookStatus)
	s.app.Post("/webhook-status", s.observeWebhook("status"), s.verifySignature, s.limitWebhooks, s.handleWebhookStatus)
	s.app.All("/webhook", onlyMethods(fiber.MethodPost))
	s.app.All("/webhook-voice", onlyMethods(fiber.MethodGet))
	s.app.All("/webhook-status", onlyMethods(fiber.MethodGet, fiber.MethodPost))
}

// inboundSMS is an incoming SMS as MessageBird reports it, numbers in E.164.
type inboundSMS struct {
	ID         string
	Originator string
	Recipient  string
	Text       string
}

// webhookFields reads a form or JSON body into strings. MessageBird's
// numbers may arrive as JSON numbers, so those become their digits.
func webhookFields(c *fiber.Ctx) (func(names ...string) string, error) {
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	switch {
	case strings.HasPrefix(ct, fiber.MIMEApplicationForm):
		return func(names ...string) string {
			for _, n := range names {
				if v := c.FormValue(n); v != "" {
					return v
				}
			}
			return ""
		}, nil
	case strings.HasPrefix(ct, fiber.MIMEApplicationJSON):
		// encoding/json would replace invalid UTF-8 silently; a form's is refused too.
		if !utf8.Valid(c.Body()) {
			return nil, errNotUTF8
		}
		dec := json.NewDecoder(bytes.NewReader(c.Body()))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_json", Message: "The body is not a valid JSON object."}
		}
		return func(names ...string) string {
			for _, n := range names {
				switch v := m[n].(type) {
				case string:
					if v != "" {
						return v
					}
				case json.Number:
					return v.String()
				}
			}
			return ""
		}, nil
	}
	return nil, &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
		Message: "Send the webhook as application/x-www-form-urlencoded or application/json."}
}

// parseInboundSMS reads MessageBird's field names, falling back to their aliases.
func (s *Server) parseInboundSMS(c *fiber.Ctx) (inboundSMS, error) {
	field, err := webhookFields(c)
	if err != nil {
		return inboundSMS{}, err
	}
	in := inboundSMS{
		ID:   field("id", "message_id"),
		Text: field("payload", "body", "message"),
	}
	rawFrom, rawTo := field("originator", "sender"), field("recipient", "receiver")
	bad := func(field, msg string) error {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_" + field, Field: field, Message: msg}
	}
	switch {
	case in.ID == "":
		return in, bad("id", "id (or message_id) is required: it makes a repeated delivery harmless.")
	case len(in.ID) > 100 || !utf8.ValidString(in.ID) || strings.ContainsRune(in.ID, 0):
		return in, bad("id", "id must be at most 100 characters of text.")
	case rawFrom == "":
		return in, bad("originator", "originator (or sender) is required.")
	case rawTo == "":
		return in, bad("recipient", "recipient (or receiver) is required.")
	case in.Text == "":
		return in, bad("payload", "payload (or body, message) is required.")
	case !utf8.ValidString(in.Text) || strings.ContainsRune(in.Text, 0):
		return in, bad("payload", "payload must be UTF-8 text.")
	}
	if in.Originator, err = phone.Normalize(rawFrom, s.DefaultCountry); err != nil {
		return in, bad("originator", "originator: "+err.Error()+".")
	}
	if in.Recipient, err = phone.Normalize(rawTo, s.DefaultCountry); err != nil {
		return in, bad("recipient", "recipient: "+err.Error()+".")
	}
	return in, nil
}

// handleWebhookSMS records an incoming SMS and forwards it to the other
// party of the ride whose route matches. It answers 200 only once the
// message and its forward's job are committed: after that nothing is lost.
func (s *Server) handleWebhookSMS(c *fiber.Ctx) error {
	in, err := s.parseInboundSMS(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	now := s.now()
	err = pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		q := db.New(tx)
		route, err := q.RouteFind(ctx, db.RouteFindParams{ProxyNumber: in.Recipient, CallerPhone: in.Originator, Now: now})
		matched := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("find route: %w", err)
		}
		params := db.MessageCreateInboundParams{Originator: in.Originator, Recipient: in.Recipient, Body: in.Text,
			Status: "unmatched", ReceivedID: &in.ID, CreatedAt: now}
		if matched {
			params.Status, params.RideID = "received", &route.RideID
		}
		inboundID, err := q.MessageCreateInbound(ctx, params)
		c.Locals(localOutcome, smsOutcome(matched, err))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // delivered before: already forwarded
		}
		if err != nil || !matched {
			return err
		}
		return s.queueMessages(ctx, tx, db.MessageCreateOutboundParams{
			RideID: &route.RideID, Kind: "forward", Originator: in.Recipient,
			Recipient: route.CalleePhone, Body: clip(in.Text, forwardLimit), ForwardOf: &inboundID,
		})
	})
	if err != nil {
		return fmt.Errorf("record inbound SMS: %w", err)
	}
	return c.SendString("OK")
}

// clip shortens text to at most n characters, marking the cut.
func clip(text string, n int) string {
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	return string([]rune(text)[:n-1]) + "…"
}
