package web

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"

	"birdcar/sql/db"
	"birdcar/sql/ride/phone"
)

// notIdentified is what a caller hears when no ride matches.
const notIdentified = "Sorry, we cannot identify your transaction. Make sure you call in from the number you registered."

// transferXML connects the caller to the other party, showing the proxy
// number instead of the caller's own (mask).
type transferXML struct {
	XMLName     xml.Name `xml:"Transfer"`
	Destination string   `xml:"destination,attr"`
	Mask        bool     `xml:"mask,attr"`
}

// sayXML reads a message to the caller.
type sayXML struct {
	XMLName  xml.Name `xml:"Say"`
	Language string   `xml:"language,attr"`
	Voice    string   `xml:"voice,attr"`
	Text     string   `xml:",chardata"`
}

// handleWebhookVoice answers MessageBird's fetch-call-flow request: transfer
// a ride party's call to the other party, or explain why not.
func (s *Server) handleWebhookVoice(c *fiber.Ctx) error {
	ctx := c.UserContext()
	call := db.CallCreateManyParams{
		CallID:      sanitize(c.Query("callID")),
		Source:      sanitize(c.Query("source")),
		Destination: sanitize(c.Query("destination")),
		Outcome:     "rejected",
		CreatedAt:   s.now(),
	}
	var answer any = sayXML{Language: "en-GB", Voice: "female", Text: notIdentified}
	// A withheld caller ("Restricted", "anonymous", empty) fails to normalise.
	caller, errFrom := phone.Normalize(call.Source, s.DefaultCountry)
	proxy, errTo := phone.Normalize(call.Destination, s.DefaultCountry)
	if errFrom == nil && errTo == nil {
		route, err := s.queries.RouteFind(ctx, db.RouteFindParams{ProxyNumber: proxy, CallerPhone: caller, Now: call.CreatedAt})
		switch {
		case err == nil:
			call.RideID, call.TransferredTo, call.Outcome = &route.RideID, &route.CalleePhone, "transferred"
			answer = transferXML{Destination: phone.Digits(route.CalleePhone), Mask: true}
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("find route for call: %w", err)
		}
	}
	body, err := xml.Marshal(answer)
	if err != nil {
		return fmt.Errorf("voice XML: %w", err)
	}
	s.recordCall(ctx, call)
	c.Locals(localOutcome, callOutcome(call.Outcome))
	c.Set(fiber.HeaderContentType, "application/xml")
	return c.Send(append([]byte(xml.Header), body...))
}

// sanitize makes a query parameter safe to store: valid UTF-8, no NULs,
// at most 100 bytes.
func sanitize(v string) string {
	v = strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "")
	if len(v) > 100 {
		v = strings.ToValidUTF8(v[:100], "")
	}
	return v
}
