package ride

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"birdcar/sql/db"
	"birdcar/sql/ride/phone"
)

// RideFilter selects rides for ListRides.
type RideFilter struct {
	// State is "active", "grace" (ended, still routing), "routable"
	// (either), "ended" (no longer routing) or "" for every ride.
	State string
	// Query finds rides as an operator types what they were told: a
	// party's name, a party's phone or the ride's proxy number in any form,
	// or the ride's id ("42", "#42"). See readSearch.
	Query string
	// PickupFrom and PickupTo bound the pickup time: from inclusive, to
	// exclusive; zero for no bound.
	PickupFrom, PickupTo time.Time
	Limit, Offset        int
}

// ListRides returns a page of rides, newest first.
func (s *Service) ListRides(ctx context.Context, f RideFilter) ([]Ride, error) {
	from, to := optTime(f.PickupFrom), optTime(f.PickupTo)
	sr := s.readSearch(f.Query)
	var rows []db.RideGetRow
	if sr == (rideSearch{}) {
		list, err := s.queries().RideList(ctx, db.RideListParams{Filter: f.State, Now: s.Now(),
			PickupFrom: from, PickupTo: to, Lim: int32(f.Limit), Off: int32(f.Offset)})
		if err != nil {
			return nil, fmt.Errorf("list rides: %w", err)
		}
		for _, r := range list {
			rows = append(rows, db.RideGetRow(r))
		}
	} else {
		found, err := s.queries().RideSearch(ctx, db.RideSearchParams{Filter: f.State, Now: s.Now(),
			PickupFrom: from, PickupTo: to, Lim: int32(f.Limit), Off: int32(f.Offset),
			Name: sr.name, Exact: sr.exact, Head: sr.head, Tail: sr.tail, TailAlt: sr.tailAlt, Whole: sr.whole, RideID: sr.rideID})
		if err != nil {
			return nil, fmt.Errorf("search rides: %w", err)
		}
		for _, r := range found {
			rows = append(rows, db.RideGetRow(r))
		}
	}
	out := make([]Ride, len(rows))
	for i, r := range rows {
		out[i] = toRide(r)
	}
	return out, nil
}

// rideSearch is what a ride search looks for; "" and 0 look for nothing.
type rideSearch struct {
	name    string // an ILIKE pattern for a party's name
	exact   string // an E.164 number
	head    string // the start of an E.164 number, "+" and digits
	tail    string // the last digits of a number…
	tailAlt string // …or these
	whole   string // a regular expression a number found by its tail must match
	rideID  int64
}

// minDigits is the fewest digits read as part of a number: fewer are a
// ride's id.
const minDigits = 4

// readSearch reads a search box:
//   - "#42", or up to three digits: the ride's id;
//   - "+44 7700 900202", "0044…": an international number, whole or its
//     start;
//   - "07700 900003": a national form, read in the country of each
//     party's (and each proxy number's) own phone — its national number is
//     the typed digits without (or, where the 0 stays, with) the trunk 0 —
//     and, whole or its start, in DEFAULT_COUNTRY;
//   - "900202", "447700900202": the last digits of a number (MessageBird's
//     form is the whole number without +), and the ride's id;
//   - anything else: part of a party's name.
//
// Phones and proxy numbers are matched alike, so a ride is found by the
// masked number a customer or driver reports.
func (s *Service) readSearch(q string) rideSearch {
	q = strings.TrimSpace(q)
	if q == "" {
		return rideSearch{}
	}
	if id, ok := strings.CutPrefix(q, "#"); ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64); err == nil && n > 0 {
			return rideSearch{rideID: n}
		}
	}
	compact := strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "", "/", "").Replace(q)
	digits := strings.TrimPrefix(compact, "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return rideSearch{name: "%" + likeEscaper.Replace(q) + "%"}
	}
	var sr rideSearch
	switch {
	case strings.HasPrefix(compact, "+"):
		sr.head = "+" + digits
	case len(digits) < minDigits:
		sr.rideID, _ = strconv.ParseInt(digits, 10, 64)
		return sr
	case strings.HasPrefix(digits, "00"):
		sr.head, sr.tail = "+"+digits[2:], digits // or the last digits of one
	case strings.HasPrefix(digits, "0"):
		sr.tail, sr.tailAlt = digits[1:], digits
		sr.whole = phone.NationalPattern(digits[1:], digits) + "$"
		if cc := phone.CallingCode(s.DefaultCountry); cc != 0 {
			sr.head = "+" + strconv.Itoa(cc) + digits[1:]
		}
	default:
		sr.tail = digits
		sr.rideID, _ = strconv.ParseInt(digits, 10, 64)
	}
	if e164, err := phone.Parse(q, s.DefaultCountry, phone.Possible); err == nil {
		sr.exact = e164
	}
	return sr
}

// likeEscaper makes text match itself in a LIKE pattern.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// optTime is t, or nil when t is zero.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
