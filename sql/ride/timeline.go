package ride

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"birdcar/sql/db"
	"birdcar/sql/ride/phone"
)

// strayWindow is how long after a ride's number stopped connecting its
// parties their unrouted attempts still show in its timeline, at least:
// OutOfSessionWindow, when longer, is used instead.
const strayWindow = 24 * time.Hour

// Event is one thing that happened on a ride: a message or a call from
// one party to another, or something an operator, an integrator or
// BirdCar did to it (Audit: created, ended, extended…). One of the three
// is set.
type Event struct {
	At      time.Time
	Message *Message
	Call    *Call
	Audit   *AuditEntry
	// Routed is false for an attempt of a party that no route matched:
	// they texted or called the number after it stopped connecting them.
	Routed   bool
	From, To Party
}

// Party is who sent or received an event: one of the ride's people, or
// (Role "") a number that is not theirs.
type Party struct {
	Role  Role
	Name  string
	Phone string // E.164, or as received when it is not a number
}

// Timeline is everything that happened on a ride, oldest first: who
// created, ended or extended it (its audit entries), its messages and
// calls, and the attempts from its parties' phones that no
// route matched while the ride held the number and a day after. The
// console shows all of it; the API its routed messages and calls.
func (s *Service) Timeline(ctx context.Context, r Ride) ([]Event, error) {
	q := s.queries()
	msgs, err := q.MessageListByRide(ctx, &r.ID)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	calls, err := q.CallListByRide(ctx, &r.ID)
	if err != nil {
		return nil, fmt.Errorf("list calls: %w", err)
	}
	until, window := s.Now(), max(strayWindow, s.OutOfSessionWindow)
	if r.ExpiresAt != nil && r.ExpiresAt.Add(window).Before(until) {
		until = r.ExpiresAt.Add(window)
	}
	strayTexts, err := q.MessageListUnmatchedFrom(ctx, db.MessageListUnmatchedFromParams{
		PhoneA: r.CustomerPhone, PhoneB: r.DriverPhone, ProxyNumber: r.ProxyNumber, Since: r.CreatedAt, Until: until})
	if err != nil {
		return nil, fmt.Errorf("list unmatched messages: %w", err)
	}
	strayCalls, err := q.CallListUnmatchedFrom(ctx, db.CallListUnmatchedFromParams{
		SourceA: phone.Digits(r.CustomerPhone), SourceB: phone.Digits(r.DriverPhone), Destination: phone.Digits(r.ProxyNumber),
		Since: r.CreatedAt, Until: until})
	if err != nil {
		return nil, fmt.Errorf("list unmatched calls: %w", err)
	}

	events := make([]Event, 0, len(msgs)+len(strayTexts)+len(calls)+len(strayCalls))
	for _, m := range append(msgs, strayTexts...) {
		msg := toMessage(m)
		events = append(events, Event{At: msg.CreatedAt, Message: &msg, Routed: msg.RideID != nil,
			From: r.party(msg.Originator), To: r.party(msg.Recipient)})
	}
	for _, k := range append(calls, strayCalls...) {
		call := toCall(k)
		caller := call.Source
		if e164, err := phone.Normalize(call.Source, s.DefaultCountry); err == nil {
			caller = e164
		}
		ev := Event{At: call.CreatedAt, Call: &call, Routed: call.RideID != nil, From: r.party(caller), To: r.party(r.ProxyNumber)}
		if call.TransferredTo != nil {
			ev.To = r.party(*call.TransferredTo)
		}
		events = append(events, ev)
	}
	audit, err := q.AuditListByRide(ctx, &r.ID)
	if err != nil {
		return nil, fmt.Errorf("list ride's audit: %w", err)
	}
	var created []Event
	for _, a := range audit {
		e := toAuditEntry(a)
		if e.Action == AuditRideCreate {
			created = append(created, Event{At: e.At, Audit: &e})
		} else {
			events = append(events, Event{At: e.At, Audit: &e})
		}
	}
	// The creation comes before what it caused at the same moment
	// ("Created by …", then the notifications).
	events = append(created, events...)
	// Stable, so that events of one moment keep the order of their table.
	slices.SortStableFunc(events, func(a, b Event) int { return cmp.Compare(a.At.UnixNano(), b.At.UnixNano()) })
	return events, nil
}

// party names the holder of an E.164 number from the ride's point of view.
func (r Ride) party(number string) Party {
	switch number {
	case r.CustomerPhone:
		return Party{Role: RoleCustomer, Name: r.CustomerName, Phone: number}
	case r.DriverPhone:
		return Party{Role: RoleDriver, Name: r.DriverName, Phone: number}
	}
	return Party{Phone: number}
}
