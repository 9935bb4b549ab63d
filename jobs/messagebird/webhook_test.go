package messagebird_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"birdcar/jobs/messagebird"
	"birdcar/sql/ride"
)

const (
	formType = "application/x-www-form-urlencoded"
	jsonType = "application/json"
)

// reader reads national numbers as Dutch, as BirdCar's default does.
var reader = messagebird.Reader{DefaultCountry: "NL"}

// readSMS hands Reader.SMS a body the way the HTTP layer does: a form's
// fields parsed, the raw bytes for JSON.
func readSMS(t *testing.T, contentType, body string) (ride.InboundSMS, error) {
	t.Helper()
	form, err := url.ParseQuery(body)
	if err != nil && strings.HasPrefix(contentType, formType) {
		t.Fatalf("test form %q: %v", body, err)
	}
	return reader.SMS(contentType, []byte(body), form.Get)
}

func TestReader_SMS(t *testing.T) {
	t.Parallel()
	want := ride.InboundSMS{ID: "mb-1", Originator: "+31612345678", Recipient: "+3197010203040", Text: "On my way 🚕"}
	tests := []struct {
		name, contentType, body string
	}{
		{"form with MessageBird's names", formType,
			"id=mb-1&originator=31612345678&recipient=3197010203040&payload=On+my+way+%F0%9F%9A%95"},
		{"form with the aliases", formType,
			"message_id=mb-1&sender=31612345678&receiver=3197010203040&body=On+my+way+%F0%9F%9A%95"},
		{"form with message for the text", formType,
			"id=mb-1&originator=31612345678&recipient=3197010203040&message=On+my+way+%F0%9F%9A%95"},
		{"form names win over their aliases", formType,
			"id=mb-1&message_id=other&originator=31612345678&sender=31600000000&recipient=3197010203040&receiver=31600000000" +
				"&payload=On+my+way+%F0%9F%9A%95&body=other&message=other"},
		{"form with an empty name falls back to its alias", formType,
			"id=&message_id=mb-1&originator=&sender=31612345678&recipient=3197010203040&payload=&body=On+my+way+%F0%9F%9A%95"},
		{"form with E.164 and national numbers", formType,
			"id=mb-1&originator=%2B31+6+1234+5678&recipient=0031970+10203040&payload=On+my+way+%F0%9F%9A%95"},
		{"national number read in the default country", formType,
			"id=mb-1&originator=06-12345678&recipient=3197010203040&payload=On+my+way+%F0%9F%9A%95"},
		{"form content type with a charset", formType + "; charset=UTF-8",
			"id=mb-1&originator=31612345678&recipient=3197010203040&payload=On+my+way+%F0%9F%9A%95"},
		{"JSON with MessageBird's names", jsonType,
			`{"id":"mb-1","originator":"31612345678","recipient":"3197010203040","payload":"On my way 🚕"}`},
		{"JSON with the aliases", jsonType,
			`{"message_id":"mb-1","sender":"31612345678","receiver":"3197010203040","body":"On my way 🚕"}`},
		{"JSON numbers become their digits", jsonType,
			`{"id":"mb-1","originator":31612345678,"receiver":3197010203040,"message":"On my way \ud83d\ude95"}`},
		{"JSON names win over their aliases", jsonType,
			`{"id":"mb-1","message_id":"other","originator":"31612345678","sender":"31600000000",` +
				`"recipient":"3197010203040","receiver":"31600000000","payload":"On my way 🚕","body":"other"}`},
		{"JSON values of another type count as missing", jsonType,
			`{"id":null,"message_id":"mb-1","originator":["31600000000"],"sender":"31612345678",` +
				`"recipient":{"n":1},"receiver":"3197010203040","payload":true,"body":"On my way 🚕"}`},
		{"JSON content type in capitals with a charset", "Application/JSON; charset=utf-8",
			`{"id":"mb-1","originator":"31612345678","recipient":"3197010203040","payload":"On my way 🚕"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := readSMS(t, tt.contentType, tt.body)
			if err != nil {
				t.Fatalf("SMS: %v", err)
			}
			if got != want {
				t.Errorf("SMS = %+v, want %+v", got, want)
			}
		})
	}
}

func TestReader_SMS_JSONNumberID(t *testing.T) {
	t.Parallel()
	// A JSON number keeps its exact digits: no float64 rounding.
	got, err := readSMS(t, jsonType, `{"id":123456789012345678901,"originator":31612345678,"recipient":3197010203040,"payload":"hi"}`)
	if err != nil || got.ID != "123456789012345678901" {
		t.Errorf("SMS = %+v, %v; want id 123456789012345678901", got, err)
	}
}

func TestReader_SMS_MalformedField(t *testing.T) {
	t.Parallel()
	ok := url.Values{"id": {"mb-1"}, "originator": {"31612345678"}, "recipient": {"3197010203040"}, "payload": {"hi"}}
	// with is ok with key set to value ("" drops it); raw is appended as
	// written, for bytes url.Values would escape.
	with := func(key, value, raw string) string {
		v := url.Values{}
		for k, vs := range ok {
			v[k] = vs
		}
		v.Del(key)
		if value != "" {
			v.Set(key, value)
		}
		if raw != "" {
			return v.Encode() + "&" + raw
		}
		return v.Encode()
	}
	tests := []struct {
		name, contentType, body string
		field                   string
	}{
		{"no id", formType, with("id", "", ""), "id"},
		{"id too long", formType, with("id", strings.Repeat("x", 101), ""), "id"},
		{"id not UTF-8", formType, with("id", "", "id=mb%FF"), "id"},
		{"id with NUL", formType, with("id", "", "id=mb%00"), "id"},
		{"no originator", formType, with("originator", "", ""), "originator"},
		{"letters in the originator", formType, with("originator", "31CALLME", ""), "originator"},
		{"alphanumeric sender", formType, with("originator", "Vodafone", ""), "originator"},
		{"unknown country code", formType, with("originator", "9991234567", ""), "originator"},
		{"no recipient", formType, with("recipient", "", ""), "recipient"},
		{"impossible recipient", formType, with("recipient", "999999999999999999", ""), "recipient"},
		{"no text", formType, with("payload", "", ""), "payload"},
		{"text not UTF-8", formType, with("payload", "", "payload=%FF%FE"), "payload"},
		{"text with NUL", formType, with("payload", "", "payload=a%00b"), "payload"},
		{"JSON without id", jsonType, `{"originator":"31612345678","recipient":"3197010203040","payload":"hi"}`, "id"},
		{"JSON text with NUL", jsonType, `{"id":"mb-1","originator":"31612345678","recipient":"3197010203040","payload":"a\u0000b"}`, "payload"},
		{"JSON originator in exponent form", jsonType, `{"id":"mb-1","originator":3.1612345678e10,"recipient":"3197010203040","payload":"hi"}`, "originator"},
		// The fields are checked in order: the first at fault is named.
		{"everything missing names the id", formType, "", "id"},
		{"id present names the originator", formType, "id=mb-1", "originator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := readSMS(t, tt.contentType, tt.body)
			e := ride.AsError(err)
			if e == nil {
				t.Fatalf("SMS error = %v, want a *ride.Error", err)
			}
			if e.Code != ride.CodeMalformed || e.Field != tt.field || e.Name() != "invalid_"+tt.field || e.Message == "" {
				t.Errorf("SMS error = %+v (%s), want malformed %s as invalid_%s with a message", e, e.Name(), tt.field, tt.field)
			}
		})
	}
}

func TestReader_SMS_UnreadableBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, contentType, body string
		code                    ride.Code
	}{
		{"broken JSON", jsonType, `{"id":`, ride.CodeInvalidJSON},
		{"JSON array", jsonType, `[1,2,3]`, ride.CodeInvalidJSON},
		{"JSON string", jsonType, `"id"`, ride.CodeInvalidJSON},
		{"empty JSON body", jsonType, ``, ride.CodeInvalidJSON},
		{"JSON not UTF-8", jsonType, "{\"id\":\"mb-1\xff\"}", ride.CodeInvalidEncoding},
		{"plain text", "text/plain", "hello", ride.CodeUnsupportedMediaType},
		{"XML", "application/xml", "<sms/>", ride.CodeUnsupportedMediaType},
		{"no content type", "", "id=mb-1", ride.CodeUnsupportedMediaType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := reader.SMS(tt.contentType, []byte(tt.body), func(string) string {
				t.Error("a form field was read from a body that is not a form")
				return ""
			})
			e := ride.AsError(err)
			if e == nil || e.Code != tt.code || e.Field != "" || e.Name() != tt.code.String() || e.Message == "" {
				t.Errorf("SMS error = %+v, want %s with a message", err, tt.code)
			}
		})
	}
}

func TestReader_Call(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                        string
		source, destination, callID string
		want                        ride.InboundCall
	}{
		{"MessageBird's digits", "31612345678", "3197010203040", "call-1",
			ride.InboundCall{CallID: "call-1", Source: "31612345678", Destination: "3197010203040",
				Caller: "+31612345678", Proxy: "+3197010203040"}},
		{"national caller read in the default country", "0612345678", "+3197010203040", "call-2",
			ride.InboundCall{CallID: "call-2", Source: "0612345678", Destination: "+3197010203040",
				Caller: "+31612345678", Proxy: "+3197010203040"}},
		{"withheld caller", "Restricted", "3197010203040", "call-3",
			ride.InboundCall{CallID: "call-3", Source: "Restricted", Destination: "3197010203040"}},
		{"anonymous caller", "anonymous", "3197010203040", "",
			ride.InboundCall{Source: "anonymous", Destination: "3197010203040"}},
		{"no caller", "", "3197010203040", "call-4",
			ride.InboundCall{CallID: "call-4", Destination: "3197010203040"}},
		{"garbage destination", "31612345678", "<b>&amp;", "call-5",
			ride.InboundCall{CallID: "call-5", Source: "31612345678", Destination: "<b>&amp;"}},
		{"markup as the caller", `"/><Hangup/><x a="`, "3197010203040", "call-6",
			ride.InboundCall{CallID: "call-6", Source: `"/><Hangup/><x a="`, Destination: "3197010203040"}},
		{"values made safe to store", "31612345678\x00", "\xff\xfe", strings.Repeat("é", 60),
			ride.InboundCall{CallID: strings.Repeat("é", 50), Source: "31612345678", Destination: "\uFFFD",
				Caller: "", Proxy: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := url.Values{"source": {tt.source}, "destination": {tt.destination}, "callID": {tt.callID}}
			if got := reader.Call(q.Get); got != tt.want {
				t.Errorf("Call = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// reportFields is a delivery report as MessageBird sends it, with changes.
func reportFields(changes ...string) func(string) string {
	v := map[string]string{"id": "mb-out-1", "reference": "42", "recipient": "31612345678", "status": "delivered",
		"statusDatetime": "2026-05-01T12:00:05+02:00"}
	for i := 0; i+1 < len(changes); i += 2 {
		v[changes[i]] = changes[i+1]
	}
	return func(name string) string { return v[name] }
}

func TestReader_Report_Statuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status string
		want   ride.ReportStatus
	}{
		{"delivered", ride.ReportDelivered},
		{"sent", ride.ReportSent},
		{"buffered", ride.ReportSent},
		{"scheduled", ride.ReportSent},
		{"delivery_failed", ride.ReportFailed},
		{"expired", ride.ReportFailed},
	}
	for _, tt := range tests {
		t.Run(tt.status+" is "+string(tt.want), func(t *testing.T) {
			t.Parallel()
			rep, ok := reader.Report(reportFields("status", tt.status))
			if !ok || rep.MessageID != 42 || rep.Status != tt.want {
				t.Fatalf("Report = %+v, %v; want message 42 %s", rep, ok, tt.want)
			}
			if want := time.Date(2026, 5, 1, 10, 0, 5, 0, time.UTC); !rep.At.Equal(want) {
				t.Errorf("At = %v, want %v", rep.At, want)
			}
			if rep.ProviderID == nil || *rep.ProviderID != "mb-out-1" {
				t.Errorf("ProviderID = %v, want mb-out-1", rep.ProviderID)
			}
			// Only a failure carries a reason.
			if (rep.Reason != nil) != (tt.want == ride.ReportFailed) {
				t.Errorf("Reason = %v for %s", rep.Reason, tt.status)
			}
		})
	}
}

func TestReader_Report_FailureReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		changes []string
		want    string
	}{
		{"reason and error code", []string{"status", "delivery_failed", "statusReason", "unknown subscriber", "statusErrorCode", "1"},
			"MessageBird: delivery_failed unknown subscriber (error 1)"},
		{"reason only", []string{"status", "delivery_failed", "statusReason", "unknown subscriber"},
			"MessageBird: delivery_failed unknown subscriber"},
		{"status only", []string{"status", "expired"}, "MessageBird: expired"},
		{"error code only", []string{"status", "expired", "statusErrorCode", "5"}, "MessageBird: expired (error 5)"},
		{"values made safe to store", []string{"status", "delivery_failed", "statusReason", "bad\x00\xff", "statusErrorCode", strings.Repeat("9", 120)},
			"MessageBird: delivery_failed bad\uFFFD (error " + strings.Repeat("9", 100) + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep, ok := reader.Report(reportFields(tt.changes...))
			if !ok || rep.Status != ride.ReportFailed || rep.Reason == nil || *rep.Reason != tt.want {
				t.Errorf("Report = %+v (reason %q), %v; want failed with %q", rep, deref(rep.Reason), ok, tt.want)
			}
		})
	}
}

func TestReader_Report_OptionalFields(t *testing.T) {
	t.Parallel()
	t.Run("no id leaves ProviderID nil", func(t *testing.T) {
		t.Parallel()
		if rep, ok := reader.Report(reportFields("id", "")); !ok || rep.ProviderID != nil {
			t.Errorf("Report = %+v, %v; want no provider id", rep, ok)
		}
	})
	t.Run("id made safe to store", func(t *testing.T) {
		t.Parallel()
		if rep, ok := reader.Report(reportFields("id", "mb\x00-1")); !ok || rep.ProviderID == nil || *rep.ProviderID != "mb-1" {
			t.Errorf("Report = %+v, %v; want provider id mb-1", rep, ok)
		}
	})
	// The domain counts a report without a time as made when it arrives.
	for _, at := range []string{"", "yesterday", "2026-05-01 12:00:05"} {
		t.Run("unreadable time "+at+" leaves At zero", func(t *testing.T) {
			t.Parallel()
			if rep, ok := reader.Report(reportFields("statusDatetime", at)); !ok || !rep.At.IsZero() {
				t.Errorf("Report = %+v, %v; want a zero At", rep, ok)
			}
		})
	}
}

func TestReader_Report_Ignored(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		changes []string
	}{
		{"no reference", []string{"reference", ""}},
		{"reference not a number", []string{"reference", "abc"}},
		{"reference not one of our ids", []string{"reference", "msg-0001"}},
		{"reference out of range", []string{"reference", "99999999999999999999"}},
		{"no status", []string{"status", ""}},
		{"unknown status", []string{"status", "bogus"}},
		{"status in another case", []string{"status", "Delivered"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if rep, ok := reader.Report(reportFields(tt.changes...)); ok || rep != (ride.Report{}) {
				t.Errorf("Report = %+v, %v; want it ignored", rep, ok)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
