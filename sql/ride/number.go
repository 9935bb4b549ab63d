package ride

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"birdcar/sql/db"
	"birdcar/sql/ride/phone"
)

// Number is a proxy number of the pool.
type Number struct {
	ID             int64
	Number         string // E.164
	Country        string // ISO code: assignment prefers numbers of the parties' country
	Enabled        bool   // a disabled number takes no new rides; its rides keep routing
	LastAssignedAt *time.Time
	// RidesNow counts the rides the number routes at the moment; only
	// NumbersWithLoad and SetNumberEnabled fill it in.
	RidesNow int64
}

// NumberInput is a pool number as typed, with an optional country.
type NumberInput struct {
	Number, Country string
}

// check normalises the number, read in its country: a national form
// ("020 7946 0000" with GB) is read there, and a number of another country
// ("+31 …" with GB) is refused. Without a country the number is read in
// defaultCountry and labelled with its own.
func (in NumberInput) check(defaultCountry string) (NumberInput, error) {
	var numberErr, countryErr error
	country := strings.ToUpper(strings.TrimSpace(in.Country))
	region := country
	if country != "" && (len(country) != 2 || strings.Trim(country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" || !phone.KnownRegion(country)) {
		countryErr = InvalidField("country", "Country must be a two-letter ISO code such as NL.")
		region = ""
	}
	if region == "" {
		region = defaultCountry
	}
	e164, err := phone.Parse(in.Number, region, phone.Possible)
	if err != nil {
		numberErr = &Error{Code: CodeInvalidPhone, Field: "number", Message: "Number: " + err.Error() + "."}
	}
	if numberErr == nil && countryErr == nil {
		if country == "" {
			if country = phone.Region(e164); country == "" {
				countryErr = InvalidField("country", "Give the number's country as a two-letter ISO code such as NL.")
			}
		} else if !phone.InRegion(e164, country) {
			countryErr = InvalidField("country", fmt.Sprintf("%s is a number of %s, not of %s: correct the country or the number.",
				phone.Format(e164), phone.Region(e164), country))
		}
	}
	if err := JoinFields(numberErr, countryErr); err != nil {
		return in, err
	}
	return NumberInput{Number: e164, Country: country}, nil
}

// AddNumber puts a number into the pool.
func (s *Service) AddNumber(ctx context.Context, in NumberInput) (Number, error) {
	return s.addNumber(ctx, s.DB, in)
}

// Rejected is an input AddNumbers refused, by its index, and why.
type Rejected struct {
	Index int
	Err   *Error
}

// AddNumbers puts many numbers into the pool in one transaction: the
// valid ones are added, the others are returned with the reason. Either
// every valid number is added or, on an internal error, none is.
func (s *Service) AddNumbers(ctx context.Context, ins []NumberInput) ([]Number, []Rejected, error) {
	var added []Number
	var rejected []Rejected
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		for i, in := range ins {
			n, err := s.addNumber(ctx, tx, in)
			if e := AsError(err); e != nil {
				rejected = append(rejected, Rejected{Index: i, Err: e})
				continue
			}
			if err != nil {
				return err
			}
			added = append(added, n)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return added, rejected, nil
}

// addNumber validates and inserts one number in a savepoint of conn, so a
// refused duplicate spoils nothing around it.
func (s *Service) addNumber(ctx context.Context, conn DB, in NumberInput) (Number, error) {
	in, err := in.check(s.DefaultCountry)
	if err != nil {
		return Number{}, err
	}
	var n db.ProxyNumber
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) (err error) {
		q := db.New(tx)
		if n, err = q.ProxyNumberCreate(ctx, db.ProxyNumberCreateParams{Number: in.Number, Country: in.Country}); err != nil {
			return err
		}
		return s.audit(ctx, q, AuditEntry{Action: AuditNumberAdd, Number: n.Number, Detail: n.Country})
	})
	if isUniqueViolation(err) {
		return Number{}, &Error{Code: CodeDuplicateNumber, Field: "number", Message: phone.Format(in.Number) + " is already in the pool."}
	}
	if err != nil {
		return Number{}, fmt.Errorf("create number: %w", err)
	}
	return toNumber(n, 0), nil
}

// Numbers lists the pool by number.
func (s *Service) Numbers(ctx context.Context) ([]Number, error) {
	rows, err := s.queries().ProxyNumberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list numbers: %w", err)
	}
	out := make([]Number, len(rows))
	for i, n := range rows {
		out[i] = toNumber(n, 0)
	}
	return out, nil
}

// NumbersWithLoad lists the pool by number with the rides each routes now.
func (s *Service) NumbersWithLoad(ctx context.Context) ([]Number, error) {
	rows, err := s.queries().ProxyNumberListWithLoad(ctx, s.Now())
	if err != nil {
		return nil, fmt.Errorf("list numbers: %w", err)
	}
	out := make([]Number, len(rows))
	for i, n := range rows {
		out[i] = toNumberWithLoad(n)
	}
	return out, nil
}

// SetNumberEnabled sets (rather than flips) whether a number takes new
// rides, so a repeated request cannot undo itself. Disabling only stops
// new assignments: rides on the number keep routing.
func (s *Service) SetNumberEnabled(ctx context.Context, id int64, enabled bool) (Number, error) {
	var row db.ProxyNumberSetEnabledRow
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) (err error) {
		if row, err = q.ProxyNumberSetEnabled(ctx, db.ProxyNumberSetEnabledParams{ID: id, Enabled: enabled, Now: s.Now()}); err != nil {
			return err
		}
		action := AuditNumberDisable
		if enabled {
			action = AuditNumberEnable
		}
		return s.audit(ctx, q, AuditEntry{Action: action, Number: row.Number})
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Number{}, ErrNumberNotFound
	} else if err != nil {
		return Number{}, fmt.Errorf("set number enabled: %w", err)
	}
	return toNumberWithLoad(db.ProxyNumberListWithLoadRow(row)), nil
}

// NumberPage returns a page of the pool, newest first, and where the next
// page starts.
func (s *Service) NumberPage(ctx context.Context, p Page) ([]Number, *Cursor, error) {
	lim, err := p.limit()
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.queries().ProxyNumberPage(ctx, db.ProxyNumberPageParams{AfterID: p.After.ID, Lim: lim})
	if err != nil {
		return nil, nil, fmt.Errorf("page numbers: %w", err)
	}
	nums := make([]Number, len(rows))
	for i, n := range rows {
		nums[i] = toNumber(n, 0)
	}
	nums, next := cut(nums, lim, func(n Number) Cursor { return Cursor{ID: n.ID} })
	return nums, next, nil
}

// PoolHealth is what the pool can still give. A ride takes any enabled
// number that routes neither of its parties now or later (the routing
// constraint only keeps one number from serving one caller twice), so a
// number in use by others still takes a ride: free numbers are not the
// capacity.
type PoolHealth struct {
	// NewPair is how many rides a pair with no current rides can be given
	// at once: every enabled number.
	NewPair int
	// Busiest is how many more rides the person holding the most numbers
	// (active rides and grace periods) can be given: NewPair when no one
	// holds any. Rides for that person are refused first.
	Busiest int
	// Free counts the enabled numbers no ride holds now or later.
	Free      int
	Watermark int  // fewer rides than this left for the busiest person is Low
	Low       bool // time to add numbers
}

// PoolHealth measures the pool's capacity against the watermark.
func (s *Service) PoolHealth(ctx context.Context) (PoolHealth, error) {
	c, err := s.queries().ProxyNumberCapacity(ctx, s.Now())
	if err != nil {
		return PoolHealth{}, fmt.Errorf("measure the pool: %w", err)
	}
	h := PoolHealth{NewPair: int(c.Enabled), Busiest: int(c.Enabled - c.Busiest), Free: int(c.Free), Watermark: s.PoolLowWatermark}
	h.Low = h.Busiest < h.Watermark
	return h, nil
}

func toNumber(n db.ProxyNumber, ridesNow int64) Number {
	return Number{ID: n.ID, Number: n.Number, Country: n.Country, Enabled: n.Enabled,
		LastAssignedAt: n.LastAssignedAt, RidesNow: ridesNow}
}

func toNumberWithLoad(n db.ProxyNumberListWithLoadRow) Number {
	return toNumber(db.ProxyNumber{ID: n.ID, Number: n.Number, Country: n.Country, Enabled: n.Enabled,
		LastAssignedAt: n.LastAssignedAt, CreatedAt: n.CreatedAt}, n.RidesNow)
}
