package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"birdcar/jobs/messagebird/fakebird"
)

// maxInFlight caps the SMS webhooks awaiting an answer; a send due while
// the cap is reached is dropped, not delayed, so the schedule stays open
// loop.
const maxInFlight = 256

// pollInterval is how often the drain reads the fake's accepted list.
const pollInterval = 200 * time.Millisecond

// smsSend is one scheduled SMS webhook.
type smsSend struct {
	ride     int  // index into the rides
	toDriver bool // sent by the customer, so due at the driver
	sentAt   time.Time
	acked    bool // answered 200
}

// parties returns the sender and the recipient the forward is due at.
func (s smsSend) parties(r ride) (from, to string) {
	if s.toDriver {
		return r.customer, r.driver
	}
	return r.driver, r.customer
}

// sms posts SMS webhooks at -rate a second until -count are scheduled or
// -duration is up. With -fake it then waits for their forwards and
// accounts for them.
func (l *loader) sms(ctx context.Context, rides []ride) (phaseReport, *smsReport, error) {
	rec := newRecorder(l.cfg.count)
	sends := make([]smsSend, l.cfg.count)
	endpoint := l.cfg.target.JoinPath("/webhook").String()
	interval := time.Duration(float64(time.Second) / l.cfg.rate)
	sem := make(chan struct{}, maxInFlight)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var wg sync.WaitGroup
	scheduled, dropped := 0, 0
	start := time.Now()
	deadline := start.Add(l.cfg.duration)
	for seq := range sends {
		// Sends are due by the clock, not after the previous answer, so a
		// slow server meets the same arrival rate.
		due := start.Add(time.Duration(seq) * interval)
		if !due.Before(deadline) {
			break
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			break
		}
		scheduled++
		select {
		case sem <- struct{}{}:
		default:
			dropped++
			continue
		}
		s := &sends[seq]
		s.ride, s.toDriver = rand.IntN(len(rides)), rand.IntN(2) == 0
		wg.Go(func() {
			defer func() { <-sem }()
			l.sendSMS(ctx, rec, endpoint, rides[s.ride], s, seq)
		})
	}
	wg.Wait()
	phase := rec.report("sms", time.Since(start), dropped)
	if l.cfg.fake == nil {
		return phase, nil, nil
	}
	sends = sends[:scheduled]
	drainStart := time.Now()
	got, err := l.awaitForwards(ctx, sends)
	if err != nil {
		return phase, nil, err
	}
	e2e := l.account(sends, rides, got)
	e2e.DrainMS = ms(time.Since(drainStart))
	return phase, e2e, nil
}

// sendSMS posts one inbound SMS from a party of r to its proxy number, in
// the form MessageBird uses, and notes in s when it was sent and whether
// BirdCar acknowledged it.
func (l *loader) sendSMS(ctx context.Context, rec *recorder, endpoint string, r ride, s *smsSend, seq int) {
	from, _ := s.parties(r)
	form := url.Values{
		"id":              {l.smsID(seq)},
		"originator":      {from},
		"recipient":       {r.proxy},
		"payload":         {l.token(seq)},
		"createdDatetime": {time.Now().UTC().Format(time.RFC3339)},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		rec.fail(err)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	s.sentAt = time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		rec.fail(err)
		return
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	d := time.Since(s.sentAt)
	if err != nil {
		rec.fail(err)
		return
	}
	s.acked = resp.StatusCode == http.StatusOK
	rec.record(d, resp.StatusCode, not200(resp.StatusCode))
}

// token is the text of the run's seq-th SMS; seqOf finds it again in a
// forward, whatever BirdCar puts around it.
func (l *loader) token(seq int) string { return fmt.Sprintf("load %s %d", l.runID, seq) }

// smsID is MessageBird's id of the seq-th SMS of the run.
func (l *loader) smsID(seq int) string { return fmt.Sprintf("%s%024x", l.runID, seq) }

func (l *loader) seqOf(body string) (int, bool) {
	prefix := "load " + l.runID + " "
	i := strings.Index(body, prefix)
	if i < 0 {
		return 0, false
	}
	rest := body[i+len(prefix):]
	if end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); end >= 0 {
		rest = rest[:end]
	}
	seq, err := strconv.Atoi(rest)
	return seq, err == nil
}

// awaitForwards polls the fake until every acknowledged SMS has been
// forwarded, -drain is up or ctx ends, and returns what the fake accepted.
// It always reads the list at least once, so an interrupted run is still
// accounted for.
func (l *loader) awaitForwards(ctx context.Context, sends []smsSend) ([]fakebird.Accepted, error) {
	deadline := time.Now().Add(l.cfg.drain)
	for {
		got, err := l.fetchAccepted(ctx)
		if err != nil {
			return nil, err
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) || l.allForwarded(sends, got) {
			return got, nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollInterval):
		}
	}
}

func (l *loader) allForwarded(sends []smsSend, got []fakebird.Accepted) bool {
	seen := make([]bool, len(sends))
	for _, a := range got {
		if seq, ok := l.seqOf(a.Body); ok && seq < len(seen) {
			seen[seq] = true
		}
	}
	for seq, s := range sends {
		if s.acked && !seen[seq] {
			return false
		}
	}
	return true
}

// account matches the fake's accepted messages to the sends. Latency runs
// from sending the webhook to the fake receiving the first forward (both
// clocks are this machine's); it is left out when the fake's timestamps are
// whole seconds, as they would make it wrong by up to a second.
func (l *loader) account(sends []smsSend, rides []ride, got []fakebird.Accepted) *smsReport {
	var rep smsReport
	forwards := make([]int, len(sends))
	latencies := make([]time.Duration, 0, len(sends))
	wholeSeconds := true
	for _, a := range got {
		seq, ok := l.seqOf(a.Body)
		if !ok || seq >= len(sends) {
			continue // a ride notification or another run's message
		}
		forwards[seq]++
		s := sends[seq]
		if !s.acked {
			continue
		}
		r := rides[s.ride]
		_, to := s.parties(r)
		if digits(a.Originator) != r.proxy || len(a.Recipients) != 1 || digits(a.Recipients[0]) != to {
			rep.Misrouted++
		}
		if forwards[seq] == 1 {
			latencies = append(latencies, a.ReceivedAt.Sub(s.sentAt))
			wholeSeconds = wholeSeconds && a.ReceivedAt.Nanosecond() == 0
		}
	}
	for seq, s := range sends {
		switch n := forwards[seq]; {
		case !s.acked:
			if n > 0 {
				rep.ForwardedUnacknowledged++
			}
			continue
		case n == 0:
			rep.Lost++
		case n == 1:
			rep.ForwardedOnce++
		default:
			rep.Duplicated++
		}
		rep.Acknowledged++
	}
	rep.WholeSecondTimestamps = len(latencies) > 0 && wholeSeconds
	if len(latencies) > 0 && !wholeSeconds {
		l := summarize(latencies)
		rep.ForwardLatency = &l
	}
	return &rep
}

// fakeTimeout bounds one call to the fake.
const fakeTimeout = 10 * time.Second

// fetchAccepted reads the fake's accepted list. It outlives ctx, so the
// final read of an interrupted run still happens.
func (l *loader) fetchAccepted(ctx context.Context) ([]fakebird.Accepted, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fakeTimeout)
	defer cancel()
	var got []fakebird.Accepted
	err := l.callFake(ctx, http.MethodGet, "/_fake/accepted", &got)
	return got, err
}

func (l *loader) resetFake(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, fakeTimeout)
	defer cancel()
	return l.callFake(ctx, http.MethodPost, "/_fake/reset", nil)
}

// callFake calls the fake's control API and decodes its JSON answer into
// out, unless nil.
func (l *loader) callFake(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, l.cfg.fake.JoinPath(path).String(), nil)
	if err != nil {
		return err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return fmt.Errorf("fake %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("fake %s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("fake %s %s: decode answer: %w", method, path, err)
	}
	return nil
}
