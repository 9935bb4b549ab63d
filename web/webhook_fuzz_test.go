package web

import (
	"encoding/xml"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzWebhookSMS sends arbitrary bodies to the SMS webhook: whatever
// arrives, the answer is a 200 or a clear 4xx, never a server error.
//
//	go test ./web -run '^$' -fuzz FuzzWebhookSMS -fuzztime 60s
func FuzzWebhookSMS(f *testing.F) {
	b := setup(f, nil)
	f.Add("application/x-www-form-urlencoded", "id=1&originator=31611111111&recipient=3197000000001&payload=hi")
	f.Add("application/x-www-form-urlencoded", "message_id=2&sender=%2B31611111111&receiver=0031970000000001&body=%F0%9F%9A%95")
	f.Add("application/x-www-form-urlencoded", "id=3&id=4&originator=31611111111&originator=x&recipient=3197000000001&payload=a&payload=b")
	f.Add("application/x-www-form-urlencoded", "id=%00&originator=%ff&recipient=&payload=%ff")
	f.Add("application/json", `{"id":"5","originator":31611111111,"recipient":"3197000000001","payload":"hi"}`)
	f.Add("application/json", `{"id":["x"],"originator":{"a":1},"recipient":null,"payload":true}`)
	f.Add("application/json", `[1,2,3]`)
	f.Add("application/json; charset=utf-8", `{"id":"6","sender":"+31 6 1111 1111","receiver":"+31 97 000000001","message":"<b>&amp;</b>' OR 1=1"}`)
	f.Add("text/xml", "<x/>")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, contentType, body string) {
		req := httptest.NewRequest("POST", "/webhook", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		// Written raw, as a client may: a content type can carry CRLFs and
		// outgrow the header buffer, which fasthttp refuses itself.
		resp := b.rawHTTP(t, dumpRequest(t, req))
		switch resp.StatusCode {
		case 200, 400, 413, 415, 431:
		default:
			msg, _ := io.ReadAll(resp.Body)
			t.Fatalf("%q %q: %d %s", contentType, body, resp.StatusCode, msg)
		}
	})
}

// FuzzWebhookVoice sends arbitrary parameters to the voice webhook: the
// answer is always well-formed XML, a Transfer or a Say.
//
//	go test ./web -run '^$' -fuzz FuzzWebhookVoice -fuzztime 60s
func FuzzWebhookVoice(f *testing.F) {
	b := setup(f, nil)
	ride := b.activeRide(f)
	f.Add(digits(ride.customer.Phone), digits(ride.ride.ProxyNumber), "call-1")
	f.Add(digits(ride.driver.Phone), "+"+digits(ride.ride.ProxyNumber), "call-2")
	f.Add("Restricted", digits(ride.ride.ProxyNumber), "")
	f.Add(`"/><Hangup/>`, `]]><!--`, "\x00\xff")
	f.Add("anonymous", "", "<callID>&")
	f.Fuzz(func(t *testing.T, source, destination, callID string) {
		q := url.Values{"source": {source}, "destination": {destination}, "callID": {callID}}
		resp := b.rawHTTP(t, dumpRequest(t, httptest.NewRequest("GET", "/webhook-voice?"+q.Encode(), nil)))
		if resp.StatusCode == 431 {
			return // a request line longer than fasthttp reads, refused before any handler
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/xml" {
			t.Fatalf("%q %q: %d %s", source, destination, resp.StatusCode, body)
		}
		var root struct{ XMLName xml.Name }
		if err := xml.Unmarshal(body, &root); err != nil || !strings.HasPrefix(string(body), xml.Header) {
			t.Fatalf("%q %q: not well-formed: %v\n%s", source, destination, err, body)
		}
		if n := root.XMLName.Local; n != "Transfer" && n != "Say" {
			t.Fatalf("root element %q", n)
		}
	})
}
