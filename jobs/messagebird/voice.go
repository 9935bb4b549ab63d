package messagebird

import (
	"bytes"
	"encoding/xml"

	"birdcar/sql/ride/phone"
)

// notIdentified is what a caller hears when no ride connects them.
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

// CallFlow is the answer to a voice webhook: put the call through to
// transferTo (E.164) with the caller's number masked, or, when it is "",
// apologise. The destination is escaped as encoding/xml escapes it, so
// nothing in it can break out of its attribute (TestCallFlow_* compare
// with encoding/xml's own output); written by hand, because this is every
// call's answer and xml.Marshal was a tenth of the webhook's CPU.
func CallFlow(transferTo string) []byte {
	if transferTo == "" {
		return apology()
	}
	var b bytes.Buffer
	b.Grow(len(xml.Header) + 64)
	b.WriteString(xml.Header + `<Transfer destination="`)
	_ = xml.EscapeText(&b, []byte(phone.Digits(transferTo))) // a bytes.Buffer does not fail
	b.WriteString(`" mask="true"></Transfer>`)
	return b.Bytes()
}

// apology is the answer to a caller no ride connects, made once; callers
// get a copy (Fiber may hold on to what it sends).
var apology = func() func() []byte {
	flow := SayFlow(notIdentified)
	return func() []byte { return bytes.Clone(flow) }
}()

// SayFlow is the answer that reads text to the caller: a past party hears
// that their ride is over. encoding/xml escapes it.
func SayFlow(text string) []byte {
	body, err := xml.Marshal(sayXML{Language: "en-GB", Voice: "female", Text: text})
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	return append([]byte(xml.Header), body...)
}

// Transferred reads a CallFlow answer: the number (E.164) the call was put
// through to, or "" when it was not.
func Transferred(callFlow []byte) string {
	var tr transferXML
	if xml.Unmarshal(callFlow, &tr) != nil || tr.Destination == "" {
		return ""
	}
	return "+" + tr.Destination
}
