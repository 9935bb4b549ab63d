package messagebird

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"birdcar/sql/ride"
	"birdcar/sql/ride/phone"
)

// Reader reads MessageBird's webhooks into the domain's values. Numbers
// arrive as international digits; any other form is read in
// DefaultCountry.
type Reader struct {
	DefaultCountry string
}

// errFormat refuses a body that is neither a form nor JSON.
var errFormat = &ride.Error{Code: ride.CodeUnsupportedMediaType,
	Message: "Send the webhook as application/x-www-form-urlencoded or application/json."}

// fields reads a form or JSON body into a lookup of string values that
// tries each name in turn. form reads a form field as the HTTP layer
// parsed it. MessageBird's numbers may arrive as JSON numbers, so those
// become their digits.
func fields(contentType string, body []byte, form func(string) string) (func(names ...string) string, error) {
	ct := strings.ToLower(contentType)
	switch {
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		return func(names ...string) string {
			for _, n := range names {
				if v := form(n); v != "" {
					return v
				}
			}
			return ""
		}, nil
	case strings.HasPrefix(ct, "application/json"):
		// encoding/json would replace invalid UTF-8 silently; a form's is refused too.
		if !utf8.Valid(body) {
			return nil, ride.ErrNotUTF8
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, ride.ErrInvalidJSON
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
	return nil, errFormat
}

// SMS reads an inbound SMS webhook ("Forward to URL" of a Flow Builder
// flow), by MessageBird's field names or their aliases.
func (r Reader) SMS(contentType string, body []byte, form func(string) string) (ride.InboundSMS, error) {
	field, err := fields(contentType, body, form)
	if err != nil {
		return ride.InboundSMS{}, err
	}
	in := ride.InboundSMS{
		ID:   field("id", "message_id"),
		Text: field("payload", "body", "message"),
	}
	rawFrom, rawTo := field("originator", "sender"), field("recipient", "receiver")
	switch {
	case in.ID == "":
		return in, ride.MalformedField("id", "id (or message_id) is required: it makes a repeated delivery harmless.")
	case len(in.ID) > 100 || !utf8.ValidString(in.ID) || strings.ContainsRune(in.ID, 0):
		return in, ride.MalformedField("id", "id must be at most 100 characters of text.")
	case rawFrom == "":
		return in, ride.MalformedField("originator", "originator (or sender) is required.")
	case rawTo == "":
		return in, ride.MalformedField("recipient", "recipient (or receiver) is required.")
	case in.Text == "":
		return in, ride.MalformedField("payload", "payload (or body, message) is required.")
	case !utf8.ValidString(in.Text) || strings.ContainsRune(in.Text, 0):
		return in, ride.MalformedField("payload", "payload must be UTF-8 text.")
	}
	if in.Originator, err = phone.Normalize(rawFrom, r.DefaultCountry); err != nil {
		return in, ride.MalformedField("originator", "originator: "+err.Error()+".")
	}
	if in.Recipient, err = phone.Normalize(rawTo, r.DefaultCountry); err != nil {
		return in, ride.MalformedField("recipient", "recipient: "+err.Error()+".")
	}
	return in, nil
}

// Call reads a voice webhook ("Fetch call flow from URL") from its query.
// A withheld caller ("Restricted", "anonymous", empty) has no Caller.
func (r Reader) Call(query func(string) string) ride.InboundCall {
	in := ride.InboundCall{
		CallID:      ride.Sanitize(query("callID")),
		Source:      ride.Sanitize(query("source")),
		Destination: ride.Sanitize(query("destination")),
	}
	caller, errFrom := phone.Normalize(in.Source, r.DefaultCountry)
	proxy, errTo := phone.Normalize(in.Destination, r.DefaultCountry)
	if errFrom == nil && errTo == nil {
		in.Caller, in.Proxy = caller, proxy
	}
	return in
}

// Report reads a delivery report (sent to the reportUrl of a message with
// a reference) from field, which reads the query or the form. It reports
// false for a report about no message of ours or with a status it does not
// know: such reports are acknowledged and ignored, so MessageBird stops
// retrying them. An unreadable statusDatetime leaves At zero.
func (r Reader) Report(field func(string) string) (ride.Report, bool) {
	ref, err := strconv.ParseInt(field("reference"), 10, 64)
	status := reportStatus(field("status"))
	if err != nil || status == "" {
		return ride.Report{}, false
	}
	rep := ride.Report{MessageID: ref, Status: status}
	if at, err := time.Parse(time.RFC3339, field("statusDatetime")); err == nil {
		rep.At = at
	}
	if status == ride.ReportFailed {
		reason := strings.TrimSpace("MessageBird: " + ride.Sanitize(field("status")) + " " + ride.Sanitize(field("statusReason")))
		if code := ride.Sanitize(field("statusErrorCode")); code != "" {
			reason += " (error " + code + ")"
		}
		rep.Reason = &reason
	}
	if id := ride.Sanitize(field("id")); id != "" {
		rep.ProviderID = &id
	}
	return rep, true
}

// reportStatus maps MessageBird's recipient statuses onto the domain's;
// "" for one it does not know.
func reportStatus(mb string) ride.ReportStatus {
	switch mb {
	case "delivered":
		return ride.ReportDelivered
	case "delivery_failed", "expired":
		return ride.ReportFailed
	case "sent", "buffered", "scheduled":
		return ride.ReportSent
	}
	return ""
}
