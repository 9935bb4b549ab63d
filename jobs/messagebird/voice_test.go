package messagebird_test

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"birdcar/jobs/messagebird"
)

func TestCallFlow_Answers(t *testing.T) {
	t.Parallel()
	// MessageBird reads these bytes: any change in them is a change in
	// what callers hear or where their call goes.
	tests := []struct {
		name, transferTo, want string
	}{
		{"transfer to the other party, caller masked", "+31612345678",
			`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
				`<Transfer destination="31612345678" mask="true"></Transfer>`},
		{"apology when no ride connects the caller", "",
			`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
				`<Say language="en-GB" voice="female">Sorry, we cannot identify your transaction. ` +
				`Make sure you call in from the number you registered.</Say>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(messagebird.CallFlow(tt.transferTo)); got != tt.want {
				t.Errorf("CallFlow(%q) =\n%s\nwant\n%s", tt.transferTo, got, tt.want)
			}
		})
	}
}

// elements lists the names of the elements of an XML document, in order,
// failing the test when it is not well-formed.
func elements(t *testing.T, doc []byte) []string {
	t.Helper()
	var names []string
	dec := xml.NewDecoder(strings.NewReader(string(doc)))
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return names
			}
			t.Fatalf("not well-formed XML (%v):\n%s", err, doc)
		}
		if se, ok := tok.(xml.StartElement); ok {
			names = append(names, se.Name.Local)
		}
	}
}

func TestCallFlow_EscapesTheDestination(t *testing.T) {
	t.Parallel()
	// The destination is the domain's E.164 number, never the caller's
	// input; were it anything else, encoding/xml would keep it inside its
	// attribute.
	for _, dest := range []string{`+3"/><Hangup/><x a="`, "+31<b>&amp;</b>", "+31]]><!--", "+31'\"\t\n"} {
		t.Run(dest, func(t *testing.T) {
			t.Parallel()
			doc := messagebird.CallFlow(dest)
			if got := strings.Join(elements(t, doc), " "); got != "Transfer" {
				t.Errorf("CallFlow(%q) has elements %q, want only Transfer:\n%s", dest, got, doc)
			}
			if got := messagebird.Transferred(doc); got != dest {
				t.Errorf("Transferred(CallFlow(%q)) = %q", dest, got)
			}
			// Byte for byte what encoding/xml writes.
			want, err := xml.Marshal(struct {
				XMLName     xml.Name `xml:"Transfer"`
				Destination string   `xml:"destination,attr"`
				Mask        bool     `xml:"mask,attr"`
			}{Destination: dest[1:], Mask: true})
			if err != nil || string(doc) != xml.Header+string(want) {
				t.Errorf("CallFlow(%q) =\n%s\nencoding/xml writes\n%s%s (%v)", dest, doc, xml.Header, want, err)
			}
		})
	}
}

func TestTransferred(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, callFlow, want string
	}{
		{"a transfer round-trips", string(messagebird.CallFlow("+31612345678")), "+31612345678"},
		{"the apology transfers nothing", string(messagebird.CallFlow("")), ""},
		{"a transfer without destination", `<Transfer mask="true"></Transfer>`, ""},
		{"another element", `<Hangup destination="31612345678"/>`, ""},
		{"not XML", "OK", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := messagebird.Transferred([]byte(tt.callFlow)); got != tt.want {
				t.Errorf("Transferred(%q) = %q, want %q", tt.callFlow, got, tt.want)
			}
		})
	}
}
