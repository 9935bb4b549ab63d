package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"birdcar/sql/db"
)

// handleWebhookStatus applies a MessageBird delivery report to the outbound
// message named by its reference (our message id). A report for a message
// we do not know is acknowledged and ignored, so MessageBird stops retrying.
func (s *Server) handleWebhookStatus(c *fiber.Ctx) error {
	field := func(name string) string {
		if v := c.Query(name); v != "" {
			return v
		}
		return c.FormValue(name)
	}
	ref, err := strconv.ParseInt(field("reference"), 10, 64)
	status := reportStatus(field("status"))
	if err != nil || status == "" {
		s.Logger.InfoContext(c.UserContext(), "delivery report ignored: unknown reference or status",
			"reference", sanitize(field("reference")), "status", sanitize(field("status")))
		return c.SendString("OK")
	}
	at, err := time.Parse(time.RFC3339, field("statusDatetime"))
	if err != nil {
		at = s.now()
	}
	var reason *string
	if status == "failed" {
		r := strings.TrimSpace("MessageBird: " + sanitize(field("status")) + " " + sanitize(field("statusReason")))
		if code := sanitize(field("statusErrorCode")); code != "" {
			r += " (error " + code + ")"
		}
		reason = &r
	}
	var providerID *string
	if id := sanitize(field("id")); id != "" {
		providerID = &id
	}
	n, err := s.queries.MessageApplyReport(c.UserContext(), db.MessageApplyReportParams{
		ID: ref, ReportStatus: status, Reason: reason, ProviderID: providerID, ReportedAt: at,
	})
	if err != nil {
		return err
	}
	c.Locals(localOutcome, reportOutcome(n))
	if n == 0 {
		s.Logger.InfoContext(c.UserContext(), "delivery report ignored: unknown message or older than the last", "reference", ref)
	}
	return c.SendString("OK")
}

// reportStatus maps MessageBird's recipient statuses onto ours; "" for
// one we do not know.
func reportStatus(mb string) string {
	switch mb {
	case "delivered":
		return "delivered"
	case "delivery_failed", "expired":
		return "failed"
	case "sent", "buffered", "scheduled":
		return "sent"
	}
	return ""
}
