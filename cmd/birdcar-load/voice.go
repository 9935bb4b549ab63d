package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// voice has -concurrency workers call GET /webhook-voice back to back until
// -count calls are made or -duration is up.
func (l *loader) voice(ctx context.Context, rides []ride) phaseReport {
	rec := newRecorder(l.cfg.count)
	endpoint := l.cfg.target.JoinPath("/webhook-voice").String()
	start := time.Now()
	deadline := start.Add(l.cfg.duration)
	var issued atomic.Int64
	var wg sync.WaitGroup
	for range l.cfg.concurrency {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) && issued.Add(1) <= int64(l.cfg.count) {
				l.call(ctx, rec, endpoint, rides[rand.IntN(len(rides))])
			}
		})
	}
	wg.Wait()
	return rec.report("voice", time.Since(start), 0)
}

// call places one call to r's proxy number, from one of its parties or,
// for a -stranger fraction, from an unknown number, and checks the answer.
func (l *loader) call(ctx context.Context, rec *recorder, endpoint string, r ride) {
	source, want := r.customer, r.driver
	switch x := rand.Float64(); {
	case x < l.cfg.stranger:
		source, want = strangerNumber(), ""
	case x < (1+l.cfg.stranger)/2:
		source, want = r.driver, r.customer
	}
	q := url.Values{"source": {source}, "destination": {r.proxy}, "callID": {callID()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil)
	if err != nil {
		rec.fail(err)
		return
	}
	start := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		rec.fail(err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		rec.fail(err)
		return
	}
	fault := ""
	if resp.StatusCode/100 == 2 {
		fault = checkVoice(resp.StatusCode, resp.Header.Get("Content-Type"), body, want)
	}
	rec.record(d, resp.StatusCode, fault)
}

// strangerNumber is a number outside the run's 3161… block, so no ride
// knows it.
func strangerNumber() string { return fmt.Sprintf("3162%07d", rand.IntN(1e7)) }

// callID is a random UUID-shaped call id, as MessageBird sends.
func callID() string {
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
		rand.Uint32(), rand.Uint32N(1<<16), rand.Uint32N(1<<12), 0x8000|rand.Uint32N(1<<14), rand.Uint64N(1<<48))
}

// checkVoice says what is wrong with a 2xx call-flow answer, or "" when it
// transfers a ride party, masked, to the other party (want), or answers a
// stranger (want "") with a Say.
func checkVoice(status int, contentType string, body []byte, want string) string {
	if fault := not200(status); fault != "" {
		return fault
	}
	if mt, _, _ := mime.ParseMediaType(contentType); mt != "application/xml" {
		return "not_xml"
	}
	flow, err := parseFlow(body)
	switch {
	case err != nil:
		return "bad_xml"
	case want == "" && flow.transfer != nil:
		return "stranger_transferred"
	case want == "" && !flow.say:
		return "no_say"
	case want == "":
		return ""
	case flow.transfer == nil:
		return "no_transfer"
	case flow.transfer.destination != want:
		return "wrong_destination"
	case flow.transfer.mask != "true":
		return "not_masked"
	}
	return ""
}

// not200 is the fault of a 2xx answer other than the 200 MessageBird wants.
func not200(status int) string {
	if status == http.StatusOK || status/100 != 2 {
		return ""
	}
	return fmt.Sprintf("status_%d", status)
}

// callFlow is what the check needs of a call-flow document.
type callFlow struct {
	transfer *transfer // the first Transfer
	say      bool
}

type transfer struct{ destination, mask string }

// parseFlow reads the Transfer and Say elements wherever they are, so the
// check holds whether or not the server wraps them in a root element.
func parseFlow(body []byte) (callFlow, error) {
	var f callFlow
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if err != nil {
			return f, err
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch el.Name.Local {
		case "Say":
			f.say = true
		case "Transfer":
			if f.transfer != nil {
				continue
			}
			f.transfer = &transfer{}
			for _, a := range el.Attr {
				switch a.Name.Local {
				case "destination":
					f.transfer.destination = a.Value
				case "mask":
					f.transfer.mask = a.Value
				}
			}
		}
	}
}
