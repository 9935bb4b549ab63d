package messagebird

import (
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
// apologise. Built with encoding/xml, so nothing in it can break out of
// its attribute.
func CallFlow(transferTo string) []byte {
	if transferTo == "" {
		return SayFlow(notIdentified)
	}
	body, err := xml.Marshal(transferXML{Destination: phone.Digits(transferTo), Mask: true})
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	return append([]byte(xml.Header), body...)
}

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
